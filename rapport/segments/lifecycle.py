"""Lifecycle stages: derived in SQL from orders, activities and analytics by admin-tuned rules.

`_stage_case(rules, *cut-offs)` is one CASE over correlated subqueries, so recomputing one
contact (an order placed) or every contact (the nightly pass) is the same single statement
plus writes for the contacts whose stage changed. A change is kept as a LifecycleChange row
and an `updated` timeline event whose changes name `lifecycle.stage` — so the automation
engine's record.updated trigger sees it with "changed to" conditions, and segments that read
the stage are re-evaluated by the timeline hook like after any other write.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from rapport.records.prepared import IDS, INSTANT, Prepared
from rapport.segments.filters import order_aggregate, orders_of, score_of
from rapport.segments.models import ContactLifecycle, LifecycleChange, LifecycleRules
from rapport.segments.models import LifecycleStage as S

CHUNK = 2000


def rules_get() -> LifecycleRules:
    """The organisation's rules (created with the defaults on first use)."""
    rules = LifecycleRules.objects.order_by("id").first()
    return rules or LifecycleRules.objects.create()


def _recent_orders(since) -> Q:
    return Q(Exists(orders_of("own").filter(ordered_at__gte=since))) | Q(
        Exists(orders_of("account").filter(ordered_at__gte=since))
    )


def _cutoffs(rules: LifecycleRules, now: datetime.datetime) -> tuple:
    """The instants the rules compare orders with: (lost since, at risk since, loyal since)."""
    return (
        now - datetime.timedelta(days=rules.lost_days),
        now - datetime.timedelta(days=rules.at_risk_days),
        now - datetime.timedelta(days=30 * rules.loyal_months),
    )


def _stage_case(rules: LifecycleRules, lost_since, at_risk_since, loyal_since):
    """The stage each contact of a queryset should have, as one SQL expression, given the
    rules' cut-off instants (_cutoffs)."""
    from rapport.activities.models import Activity

    orders = order_aggregate("COUNT", "id", IntegerField())

    def count_since(kind: str):
        sub = (
            orders_of(kind)
            .filter(ordered_at__gte=loyal_since)
            .annotate(v=Func(F("id"), function="COUNT"))
            .values("v")
        )
        return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))

    loyal_orders = count_since("own") + count_since("account")
    activities = Coalesce(
        Subquery(
            Activity.objects.filter(contact_id=OuterRef("pk"))
            .order_by()
            .annotate(v=Func(F("id"), function="COUNT"))
            .values("v"),
            output_field=IntegerField(),
        ),
        Value(0),
    )
    churn = Coalesce(score_of("churn_risk", FloatField()), Value(0.0), output_field=FloatField())
    has_orders = Q(Exists(orders_of("own"))) | Q(Exists(orders_of("account")))
    whens = [
        When(has_orders & ~_recent_orders(lost_since), then=Value(S.LOST)),
        When(
            has_orders & (~_recent_orders(at_risk_since) | Q(_ge(churn, rules.at_risk_churn))),
            then=Value(S.AT_RISK),
        ),
        When(Q(_ge(loyal_orders, rules.loyal_min_orders)), then=Value(S.LOYAL)),
        When(Q(_ge(orders, 2)), then=Value(S.REPEAT_BUYER)),
        When(Q(_ge(orders, 1)), then=Value(S.FIRST_TIME_BUYER)),
    ]
    if rules.lead_min_activities > 0:
        whens.append(When(Q(_ge(activities, rules.lead_min_activities)), then=Value(S.LEAD)))
    return Case(*whens, default=Value(S.PROSPECT), output_field=CharField())


def _ge(expr, value):
    return GreaterThanOrEqual(expr, value)


def lifecycle_recompute(
    *,
    contact_ids: Iterable[int] | None = None,
    now: datetime.datetime | None = None,
    reason: str = "",
) -> int:
    """Bring the stored stage of the given contacts (None: every contact) up to the rules;
    returns how many stages changed. Writes history and timeline events for each change."""
    from rapport.accounts.models import Contact

    now = now or timezone.now()
    rules = rules_get()
    if contact_ids is not None:
        ids = sorted(set(contact_ids))
        if not ids:
            return 0
        rows = _changed_of(rules)(*_cutoffs(rules, now), ids)
        return sum(_apply(rows[i : i + CHUNK], now, reason) for i in range(0, len(rows), CHUNK))
    qs = _changed(Contact.objects.all(), _stage_case(rules, *_cutoffs(rules, now)))
    changed = 0
    batch: list[tuple] = []
    for row in qs.iterator(chunk_size=CHUNK):
        batch.append(row)
        if len(batch) >= CHUNK:
            changed += _apply(batch, now, reason)
            batch = []
    if batch:
        changed += _apply(batch, now, reason)
    return changed


def _changed(qs, stage):
    """(pk, account id, stored stage, new stage) of the contacts of `qs` whose stored stage
    is not `stage`, by pk."""
    return (
        qs.annotate(new_stage=stage)
        .filter(Q(lifecycle__isnull=True) | ~Q(lifecycle__stage=F("new_stage")))
        .order_by("pk")
        .values_list("pk", "account_id", "lifecycle__stage", "new_stage")
    )


# The write path's recompute (every order, activity and import batch asks it for its
# contacts) compiled once per set of rules: building and compiling the stage's CASE cost
# ~9 ms of CPU a call, running it ~0.1-0.3 ms. Arguments: the three cut-off instants, ids.
_CHANGED_OF: dict[tuple, Prepared] = {}
_RULE_FIELDS = ("lead_min_activities", "loyal_min_orders", "at_risk_churn")


def _changed_of(rules: LifecycleRules) -> Prepared:
    from rapport.accounts.models import Contact

    key = tuple(getattr(rules, f) for f in _RULE_FIELDS)
    prepared = _CHANGED_OF.get(key)
    if prepared is None:
        if len(_CHANGED_OF) >= 16:  # rules edited many times in one process
            _CHANGED_OF.clear()

        def build(lost_since, at_risk_since, loyal_since, ids, rules=rules):
            stage = _stage_case(rules, lost_since, at_risk_since, loyal_since)
            return _changed(Contact.objects.filter(_IdIn(F("pk"), ids)), stage)

        kinds = (INSTANT, INSTANT, INSTANT, IDS)
        prepared = _CHANGED_OF.setdefault(key, Prepared(build, 4, kinds=kinds))
    return prepared


class _IdIn(Func):
    """`expression` is one of `ids`, sent as ONE parameter (an array on PostgreSQL, a JSON
    list on SQLite): an import batch recomputes thousands of contacts, and `pk__in=[…]` with
    one placeholder per id cost more to build and send than the statement's plan. On
    PostgreSQL `= ANY(array)` keeps the plan of the IN list (a subquery over unnest() is
    planned as a join, three times slower at 5,000 ids)."""

    output_field = BooleanField()

    def __init__(self, expression, ids: list[int]):
        super().__init__(expression)
        self.ids = ids

    def as_sql(self, compiler, connection, **extra):
        lhs, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s::bigint[])", (*params, self.ids)
        if connection.vendor == "sqlite":
            return f"{lhs} IN (SELECT value FROM json_each(%s))", (*params, json.dumps(self.ids))  # noqa: S608
        marks = ", ".join(["%s"] * len(self.ids))
        return f"{lhs} IN ({marks})", (*params, *self.ids)


LABELS = dict(S.choices)


def _stages_upsert(stages: list[tuple[int, str]], now) -> None:
    """Store (contact id, stage) pairs with `since` = now, replacing a contact's current
    row: what `bulk_create(update_conflicts=True)` writes, as one prepared statement (an
    import of 50,000 contacts spent a fifth of its time compiling that bulk_create)."""
    if not stages:
        return
    table = ContactLifecycle._meta.db_table
    vendor = connection.vendor
    since = ContactLifecycle._meta.get_field("since").get_db_prep_save(now, connection)
    upsert = "ON CONFLICT (contact_id) DO UPDATE SET stage = EXCLUDED.stage, since = EXCLUDED.since"
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            ids, names = zip(*stages, strict=True)
            cursor.execute(
                f"INSERT INTO {table} (contact_id, stage, since) "  # noqa: S608
                "SELECT c, s, %s FROM unnest(%s::bigint[], %s::varchar[]) AS t(c, s) "
                f"{upsert}",
                [since, list(ids), list(names)],
            )
        elif vendor == "sqlite":
            cursor.cursor.executemany(  # the sqlite3 cursor: no per-row query rewriting
                f"INSERT INTO {table} (contact_id, stage, since) VALUES (?, ?, ?) {upsert}",  # noqa: S608
                [(pk, stage, since) for pk, stage in stages],
            )
        else:
            ContactLifecycle.objects.bulk_create(
                [ContactLifecycle(contact_id=pk, stage=to, since=now) for pk, to in stages],
                update_conflicts=True,
                unique_fields=["contact"],
                update_fields=["stage", "since"],
            )


def _apply(rows: list[tuple], now, reason: str) -> int:
    from rapport.timeline.hooks import as_columns, events_written
    from rapport.timeline.models import EventKind, TimelineEvent

    with transaction.atomic():
        _stages_upsert([(pk, to) for pk, _, _old, to in rows], now)
        moves = [
            (pk, acc, old, to) for pk, acc, old, to in rows if old is not None or to != S.PROSPECT
        ]
        LifecycleChange.objects.bulk_create(
            [
                LifecycleChange(
                    contact_id=pk, from_stage=old or "", to_stage=to, changed_at=now, reason=reason
                )
                for pk, _, old, to in moves
            ]
        )
        events = TimelineEvent.objects.bulk_create(
            [
                TimelineEvent(
                    kind=EventKind.UPDATED,
                    occurred_at=now,
                    contact_id=pk,
                    account_id=acc,
                    summary=(
                        f"Lifecycle stage: {LABELS.get(old, 'none')} → {LABELS[to]}"
                        if old
                        else f"Lifecycle stage: {LABELS[to]}"
                    ),
                    payload={
                        "action": "lifecycle",
                        "changes": {"lifecycle.stage": {"old": old, "new": to}},
                    },
                )
                for pk, acc, old, to in moves
            ]
        )
        events_written([as_columns(e) for e in events])
    return len(rows)


def lifecycle_rules_update(*, actor, fields: dict, expected_version: int | None = None):
    """Change the thresholds (administrators only; stale version → StaleVersion)."""
    from django.core.exceptions import ValidationError

    from rapport.identity.services import require_settings_admin
    from rapport.records.exceptions import StaleVersion

    require_settings_admin(actor)
    rules = rules_get()
    allowed = {
        "lead_min_activities",
        "loyal_min_orders",
        "loyal_months",
        "at_risk_churn",
        "at_risk_days",
        "lost_days",
    }
    unknown = set(fields) - allowed
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError({name: [ValidationError("Unknown rule", code="unknown_field")]})
    for name, value in fields.items():
        setattr(rules, name, value)
    errors = {}
    if not 0 <= float(rules.at_risk_churn) <= 1:
        errors["at_risk_churn"] = [ValidationError("Between 0 and 1", code="invalid")]
    if rules.lost_days <= rules.at_risk_days:
        errors["lost_days"] = [ValidationError("Must be more days than “at risk”", code="invalid")]
    if rules.loyal_min_orders < 2:
        errors["loyal_min_orders"] = [ValidationError("At least 2", code="invalid")]
    if rules.loyal_months < 1:
        errors["loyal_months"] = [ValidationError("At least 1", code="invalid")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        updated = LifecycleRules.objects.filter(
            pk=rules.pk, **({"version": expected_version} if expected_version else {})
        ).update(**fields, version=F("version") + 1)
        if not updated:
            raise StaleVersion(LifecycleRules.objects.get(pk=rules.pk).version)
    rules.refresh_from_db()
    return rules
