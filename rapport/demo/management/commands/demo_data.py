"""`manage.py demo_data [--if-empty] [--accounts N] [--no-analysis]`: load the demo company,
then compute its analytics and duplicate candidates once (rapport/demo/analysis.py).

With `--contacts N` (and optionally --activities, --orders, --accounts, --leads,
--opportunities) it builds data at scale with bulk inserts instead (rapport/demo/bulk/),
added to what the database holds, and prints the rows written per second.
"""

import time

from django.core.management.base import BaseCommand

from rapport.demo.closed_accounts import close_demo_accounts
from rapport.identity.models import User


class Command(BaseCommand):
    help = "Load demo data (users, teams, accounts, contacts, leads, opportunities, orders, activities)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing if users exist already"
        )
        parser.add_argument(
            "--accounts",
            type=int,
            default=None,
            help="number of accounts (scales the rest; 200 by default, contacts/5 at scale)",
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--no-analysis",
            action="store_false",
            dest="analysis",
            help="skip the first analytics refresh and duplicate scan of the demo",
        )
        scale = parser.add_argument_group("data at scale (bulk inserts)")
        scale.add_argument("--contacts", type=int, default=None, help="bulk mode: contacts")
        scale.add_argument("--activities", type=int, default=None, help="default 5 per contact")
        scale.add_argument("--orders", type=int, default=None, help="default 1 per 2 contacts")
        scale.add_argument("--leads", type=int, default=None, help="default 1 per 4 contacts")
        scale.add_argument(
            "--opportunities", type=int, default=None, help="default 1 per 2 accounts"
        )

    def handle(self, *args, if_empty: bool, accounts: int | None, seed: int, **options):
        from rapport.demo.builder import demo_build

        if options["contacts"] is not None:
            self._bulk(accounts=accounts, seed=seed, **options)
            return
        accounts = 200 if accounts is None else accounts

        if User.objects.exists():
            if if_empty:
                self.stdout.write("Data present: demo data not loaded again.")
                self._print_logins()
                return
            self.stderr.write(
                "The database has users already; demo data goes into an empty database only."
            )
            raise SystemExit(1)
        start = time.monotonic()
        result = demo_build(
            accounts=accounts, seed=seed, progress=lambda m: self.stdout.write(f"  … {m}")
        )
        # Some customers have left (the disengaged ones mostly): the churn classifier of the
        # analytics learns from them.
        closed = close_demo_accounts(seed=seed, progress=lambda m: self.stdout.write(f"  … {m}"))
        result.counts["closed accounts"] = closed
        counts = ", ".join(f"{n} {name}" for name, n in result.counts.items())
        self.stdout.write(
            self.style.SUCCESS(f"Demo data loaded in {time.monotonic() - start:.1f}s: {counts}")
        )
        if options["analysis"]:
            from rapport.demo.analysis import demo_analyse

            demo_analyse(progress=lambda m: self.stdout.write(f"  … {m}"))
        self._print_logins()

    def _bulk(self, *, accounts, seed, contacts, activities, orders, leads, opportunities, **_):
        from rapport.demo.bulk import Counts, bulk_build

        accounts = max(1, contacts // 5) if accounts is None else accounts
        counts = Counts(
            accounts=accounts,
            contacts=contacts,
            leads=contacts // 4 if leads is None else leads,
            opportunities=accounts // 2 if opportunities is None else opportunities,
            orders=contacts // 2 if orders is None else orders,
            activities=contacts * 5 if activities is None else activities,
        )
        result = bulk_build(
            counts=counts, seed=seed, progress=lambda m: self.stdout.write(f"  … {m}")
        )
        for table, n in result.rows.items():
            self.stdout.write(f"  {table:<26} {n:>12,}")
        rate = result.total_rows / max(result.total_seconds, 1e-9)
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.total_rows:,} rows in {result.total_seconds:.1f}s: {rate:,.0f} rows/s "
                "(indexes and search included)"
            )
        )

    def _print_logins(self) -> None:
        from rapport.demo.builder import DEMO_LOGINS, DEMO_PASSWORD

        if not User.objects.filter(username="admin").exists():
            return  # not the demo company
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for name, role in DEMO_LOGINS:
            self.stdout.write(f"  {name:<8} {role}")
