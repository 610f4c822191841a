"""`bulk_build`: the whole load, in one transaction."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction

from rapport.demo.bulk.rows import Counts, Generator
from rapport.demo.bulk.writing import Writer, rebuilt_indexes, rss_mib, search_paused

# A table whose load at least equals what it holds gets its secondary indexes (and, on
# PostgreSQL, its foreign keys) dropped for the load and built again after: one sort per
# index instead of millions of random inserts. Below this many new rows it is not worth it.
REBUILD_MIN_ROWS = 50_000


@dataclass
class BulkResult:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def bulk_build(*, counts: Counts, seed: int = 42, progress: Callable[[str], None] | None = None):
    """Append `counts` records (and their related rows and events) with bulk inserts, in one
    transaction. Needs the demo users, pipeline and products (made if missing)."""
    from rapport.demo import builder
    from rapport.identity.models import User
    from rapport.sales.models import Product, Stage, StageKind
    from rapport.sales.selectors import default_pipeline

    say = progress or (lambda msg: None)
    rng = random.Random(seed)
    result = BulkResult()
    started = time.perf_counter()

    with transaction.atomic():
        if not User.objects.exists():
            builder.demo_build(accounts=0, seed=seed)
        users = list(
            User.objects.filter(is_active=True, team__isnull=False)
            .exclude(role="read_only")
            .order_by("id")
            .values_list("id", "team_id")
        ) or list(User.objects.filter(is_active=True).order_by("id").values_list("id", "team_id"))
        admin = User.objects.filter(role="admin").order_by("id").values_list("id", flat=True)
        pipeline = default_pipeline() or builder._standard_pipeline(User.objects.get(pk=admin[0]))
        stages = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
        open_stages = [s for s in stages if s.kind == StageKind.OPEN]
        won = next(s for s in stages if s.kind == StageKind.WON)
        lost = next(s for s in stages if s.kind == StageKind.LOST)
        products = list(Product.objects.order_by("id").values_list("id", "name", "unit_price"))
        if not products:
            raise RuntimeError("no products: run demo_data on an empty database first")

        w = Writer()
        big = {
            "accounts_account": counts.accounts,
            "accounts_contact": counts.contacts,
            "accounts_contactemail": counts.contacts,
            "accounts_contactphone": counts.contacts,
            "leads_lead": counts.leads,
            "sales_opportunity": counts.opportunities,
            "sales_stagechange": counts.opportunities * 3,
            "sales_lineitem": counts.opportunities * 2,
            "orders_order": counts.orders,
            "orders_orderline": counts.orders * 2,
            "activities_activity": counts.activities,
            "timeline_timelineevent": counts.contacts + counts.activities + counts.orders,
        }
        with connection.cursor() as cursor:
            rebuild = []
            for table, adding in big.items():
                if adding < REBUILD_MIN_ROWS:
                    continue
                cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
                if adding >= cursor.fetchone()[0]:
                    rebuild.append(table)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # COPY is fastest with enough memory to sort for the index builds.
                cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        search_big = "accounts_contact" in rebuild
        with search_paused(search_big), rebuilt_indexes(rebuild):
            gen = Generator(w, rng, counts, users, products, open_stages, won, lost, pipeline)
            for name, step in gen.steps():
                t0 = time.perf_counter()
                before = sum(w.counts.values())
                step()
                seconds = time.perf_counter() - t0
                rows = sum(w.counts.values()) - before
                result.seconds[name] = seconds
                say(
                    f"{name}: {rows:,} rows with their events in {seconds:.1f}s "
                    f"({rows / max(seconds, 1e-9):,.0f} rows/s; RSS {rss_mib():.0f} MiB)"
                )
            result.rows = dict(w.counts)
            t0 = time.perf_counter()
            if rebuild:
                say(f"building indexes again on {len(rebuild)} tables …")
        if rebuild or search_big:
            result.seconds["indexes and search"] = time.perf_counter() - t0
            say(f"indexes and search index built in {time.perf_counter() - t0:.1f}s")
        for table in big:
            w.reset_sequence(table)
    with connection.cursor() as cursor:
        # Fresh statistics for the planner on EVERY table, not only the big ones: the small
        # ones the loader reads or fills (stages, pipelines, products, users, teams) were
        # never analysed, so PostgreSQL planned the pipeline KPI for 385 rows and sorted
        # 57,055 on disk. ANALYZE samples: seconds at a million contacts.
        cursor.execute("ANALYZE")
    result.total_seconds = time.perf_counter() - started
    return result
