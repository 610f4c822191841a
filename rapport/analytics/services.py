"""Writes of analytics: refresh runs (warehouse + scores), the analytics settings.

A refresh builds a private copy of the DuckDB warehouse, computes the scores from it, writes
them to CustomerScore/ModelFit in batches, then swaps the copy in and marks the run succeeded.
A failure leaves the previous snapshot and scores in place and the run marked failed.
"""

from __future__ import annotations

import datetime
import logging
import time
import traceback
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from rapport.accounts.models import Account, Contact
from rapport.analytics.models import (
    AnalyticsSettings,
    CustomerScore,
    ModelFit,
    ObservationEnd,
    RunKind,
    RunStatus,
    WarehouseRun,
)
from rapport.analytics.scoring import (
    ScoreConfig,
    ScoreResult,
    compute_scores,
    jsonable,
    store_scores_in_warehouse,
)
from rapport.analytics.warehouse import (
    OVERLAP,
    SCHEMA_VERSION,
    WarehouseBuild,
    build_warehouse,
)
from rapport.identity.models import Role, User
from rapport.records.exceptions import Conflict, PermissionDenied
from rapport.records.services import versioned_update

logger = logging.getLogger(__name__)

ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
# A run still "running" after this long died with its worker; it no longer blocks refreshes.
RUN_TIMEOUT = datetime.timedelta(hours=6)
SCORE_BATCH = 500
MAX_MONEY = 1e13
SETTINGS_FIELDS = (
    "cost_per_call",
    "cost_per_meeting",
    "cost_per_email",
    "cost_per_interaction",
    "cost_per_task",
    "cost_per_note",
    "marketing_cost_per_year",
    "annual_discount_rate",
    "margin",
    "holdout_weeks",
    "at_risk_min_churn",
    "at_risk_value_quantile",
    "churn_min_per_class",
    "observation_end",
    "observation_end_date",
)
# The analysis warns when the observed history ends this long before today.
STALE_HISTORY_DAYS = 90


def can_refresh(user: User) -> bool:
    return user.is_active and (user.is_admin or user.role == Role.MANAGER)


# ----- settings -----------------------------------------------------------------------------


def analytics_settings_get() -> AnalyticsSettings:
    """The settings row (created with defaults on first use)."""
    obj, _ = AnalyticsSettings.objects.get_or_create(pk=1)
    return obj


def analytics_settings_update(
    *, actor: User, fields: dict[str, Any], expected_version: int | None = None
) -> dict[str, dict[str, Any]]:
    """Versioned change of the cost rates and model settings (administrators only); they
    apply from the next refresh. Returns the diff."""
    if not actor.is_admin:
        raise PermissionDenied("Only administrators may change analytics settings", "admin_only")
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"analytics_settings_update cannot change {', '.join(sorted(unknown))}")
    with transaction.atomic():
        obj = AnalyticsSettings.objects.select_for_update().get(pk=analytics_settings_get().pk)
        probe = AnalyticsSettings(**{f.attname: getattr(obj, f.attname) for f in obj._meta.fields})
        for name, value in fields.items():
            setattr(probe, name, value)
        probe.full_clean(exclude=["id"])
        return versioned_update(instance=obj, changes=fields, expected_version=expected_version)


def score_config(obj: AnalyticsSettings | None = None) -> ScoreConfig:
    obj = obj or analytics_settings_get()
    return ScoreConfig(
        cost_rates=obj.cost_rates(),
        marketing_cost_per_year=float(obj.marketing_cost_per_year),
        annual_discount_rate=float(obj.annual_discount_rate),
        margin=float(obj.margin),
        holdout_weeks=int(obj.holdout_weeks),
        at_risk_min_churn=float(obj.at_risk_min_churn),
        at_risk_value_quantile=float(obj.at_risk_value_quantile),
        churn_min_per_class=int(obj.churn_min_per_class),
    )


def observation_end_for(
    obj: AnalyticsSettings, *, last_order_day: datetime.date | None, today: datetime.date
) -> datetime.date:
    """The day the analysis is as of, by the setting: automatic (today, or the last order's
    day when that is more than STALE_HISTORY_DAYS old: a history that ended, not customers
    who all stopped buying at once), the last order's day (today when there is no order),
    today (or the last order's day when orders are dated later), or the fixed date. Recency,
    the models' T, RFM, the churn features and the KPI windows end there; orders after it are
    left out of the scores."""
    latest = max(today, last_order_day) if last_order_day else today
    if obj.observation_end == ObservationEnd.DATE and obj.observation_end_date:
        return obj.observation_end_date
    if obj.observation_end == ObservationEnd.TODAY:
        return latest
    if obj.observation_end == ObservationEnd.LAST_ORDER:
        return last_order_day or today
    if last_order_day and (today - last_order_day).days > STALE_HISTORY_DAYS:
        return last_order_day
    return latest


# ----- runs ---------------------------------------------------------------------------------


def active_run() -> WarehouseRun | None:
    cutoff = timezone.now() - RUN_TIMEOUT
    return (
        WarehouseRun.objects.filter(status__in=ACTIVE_STATUSES, created_at__gte=cutoff)
        .order_by("-created_at", "-id")
        .first()
    )


def last_succeeded_run() -> WarehouseRun | None:
    return (
        WarehouseRun.objects.filter(status=RunStatus.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .first()
    )


def _run_create(*, full: bool, requested_by: User | None) -> WarehouseRun:
    """A queued run, unless one is queued or running already (Conflict). The settings row is
    the lock that makes the check-then-create safe against a concurrent request."""
    analytics_settings_get()
    AnalyticsSettings.objects.select_for_update().filter(pk=1).first()
    current = active_run()
    if current is not None:
        raise Conflict(
            f"A refresh is already {current.status} (run {current.pk})", code="refresh_in_progress"
        )
    return WarehouseRun.objects.create(
        kind=RunKind.FULL if full else RunKind.INCREMENTAL, requested_by=requested_by
    )


def analytics_refresh_request(*, actor: User, full: bool = False) -> WarehouseRun:
    """Queue a refresh (administrators and managers) and enqueue its task after commit."""
    from rapport.analytics.tasks import analytics_refresh_task

    if not can_refresh(actor):
        raise PermissionDenied("Only managers and administrators may refresh analytics")
    with transaction.atomic():
        run = _run_create(full=full, requested_by=actor)
        transaction.on_commit(lambda: analytics_refresh_task.enqueue(run.pk))
    return run


def analytics_refresh_now(*, full: bool = False, requested_by: User | None = None) -> WarehouseRun:
    """Create a run and execute it in this process (management command, scheduler)."""
    with transaction.atomic():
        run = _run_create(full=full, requested_by=requested_by)
    return analytics_refresh_run(run=run)


def _set(run: WarehouseRun, **values) -> None:
    for name, value in values.items():
        setattr(run, name, value)
    WarehouseRun.objects.filter(pk=run.pk).update(**values)


class _StageClock:
    """Wall time per stage of a run (reported in the run summary)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._stage, self._since = None, time.perf_counter()

    def enter(self, stage: str) -> None:
        now = time.perf_counter()
        if self._stage:
            self.seconds[self._stage] = round(
                self.seconds.get(self._stage, 0.0) + now - self._since, 3
            )
        self._stage, self._since = stage, now


def analytics_refresh_run(*, run: WarehouseRun) -> WarehouseRun:
    """Execute a queued run: warehouse, scores, fit reports. Never raises for a failure of
    the refresh itself: the run is marked failed with the error and the previous snapshot
    and scores stay in place."""
    if run.status != RunStatus.QUEUED:
        raise Conflict(f"Run {run.pk} is {run.status}, not queued", code="run_not_queued")
    started = timezone.now()
    _set(run, status=RunStatus.RUNNING, started_at=started, stage="starting")
    previous = last_succeeded_run()
    build = None
    clock = _StageClock()

    def stage(name: str) -> None:
        clock.enter(name)
        _set(run, stage=name)

    try:
        build = WarehouseBuild(full=run.kind == RunKind.FULL)
        since = None
        if not build.full and previous is not None and previous.watermark is not None:
            from rapport.analytics.warehouse import snapshot_meta

            if snapshot_meta(build.con).get("run_id") == str(previous.pk):
                since = previous.watermark - OVERLAP
        if since is None and not build.full:
            # The snapshot does not match the last run: start again from nothing.
            build.discard()
            build = WarehouseBuild(full=True)
        if build.full and run.kind != RunKind.FULL:
            _set(run, kind=RunKind.FULL)
        counts = build_warehouse(build, since=since, as_of=started, progress=stage)
        config = analytics_settings_get()
        last_order_day = (
            datetime.date.fromisoformat(counts["last_order_day"])
            if counts["last_order_day"]
            else None
        )
        as_of = observation_end_for(
            config, last_order_day=last_order_day, today=timezone.localdate(started)
        )
        observation = {
            "as_of": as_of.isoformat(),
            "observation_end": config.observation_end,
            "last_order_day": counts["last_order_day"],
        }
        stage("fitting models and scoring")
        result = compute_scores(build.con, as_of=as_of, config=score_config(config))
        store_scores_in_warehouse(build.con, result.scores)
        build.set_meta(
            {
                "schema_version": SCHEMA_VERSION,
                "run_id": str(run.pk),
                **observation,
                "built_at": timezone.now().isoformat(),
                "currency": _currency(),
            }
        )
        stage("saving scores")
        _scores_write(run=run, result=result, computed_at=timezone.now())
        build.publish()
        build = None
        clock.enter("")
        _set(
            run,
            status=RunStatus.SUCCEEDED,
            stage="done",
            finished_at=timezone.now(),
            watermark=started,
            rows=counts["orders_read"],
            customers=int(result.summary.get("customers", 0)),
            summary=jsonable({**counts, **result.summary, **observation, "seconds": clock.seconds}),
        )
    except Exception as exc:  # noqa: BLE001 - any failure must end the run visibly
        logger.exception("analytics refresh %s failed", run.pk)
        if build is not None:
            build.discard()
        _set(
            run,
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"[:10_000],
        )
    return run


def _currency() -> str:
    from django.conf import settings

    return settings.RAPPORT_CURRENCY.upper()


# ----- storing scores -----------------------------------------------------------------------


def _money(value: float) -> Decimal:
    if value is None or not np.isfinite(value):
        return Decimal("0")
    return Decimal(f"{min(max(float(value), -MAX_MONEY), MAX_MONEY):.2f}")


def _float_or_none(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def _date_or_none(value) -> datetime.date | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


SCORE_FIELDS = (
    "run",
    "segment",
    "r_score",
    "f_score",
    "m_score",
    "recency_days",
    "orders",
    "first_purchase",
    "last_purchase",
    "p_alive",
    "expected_purchases_12w",
    "expected_purchases_52w",
    "expected_spend",
    "clv",
    "churn_risk",
    "churn_source",
    "at_risk",
    "value_at_risk",
    "next_products",
    "upsell_products",
    "revenue",
    "cost_to_serve",
    "marketing_cost",
    "profit",
    "computed_at",
)


def _score_row(key: int, row, run: WarehouseRun, computed_at) -> CustomerScore:
    spend = row.expected_spend
    return CustomerScore(
        account_id=key if key > 0 else None,
        contact_id=-key if key < 0 else None,
        run=run,
        segment=str(row.segment),
        r_score=int(row.r_score),
        f_score=int(row.f_score),
        m_score=int(row.m_score),
        recency_days=max(int(row.recency_days), 0),
        orders=int(row.orders),
        first_purchase=_date_or_none(row.first_purchase),
        last_purchase=_date_or_none(row.last_purchase),
        p_alive=_float_or_none(row.p_alive),
        expected_purchases_12w=_float_or_none(row.expected_purchases_12w),
        expected_purchases_52w=_float_or_none(row.expected_purchases_52w),
        expected_spend=_money(spend) if spend is not None and np.isfinite(spend) else None,
        clv=_money(row.clv),
        churn_risk=float(np.clip(row.churn_risk, 0.0, 1.0)),
        churn_source=str(row.churn_source or ""),
        at_risk=bool(row.at_risk),
        value_at_risk=_money(row.value_at_risk),
        next_products=list(row.next_products),
        upsell_products=list(row.upsell_products),
        revenue=_money(row.revenue),
        cost_to_serve=_money(row.cost_to_serve),
        marketing_cost=_money(row.marketing_cost),
        profit=_money(row.profit),
        computed_at=computed_at,
    )


def _scores_upsert(rows: list[CustomerScore], key: str) -> None:
    """INSERT … ON CONFLICT (key) DO UPDATE in one executemany (SQLite and PostgreSQL): the
    ORM's bulk_create with update_conflicts builds one huge statement per batch and was
    the slowest step of a refresh (161 s of 299 at a million customers)."""
    if not rows:
        return
    meta = CustomerScore._meta
    names = dict.fromkeys(("account", "contact", *SCORE_FIELDS))
    fields = [meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    columns = [f.column for f in fields]
    updates = ", ".join(
        f"{quote(c)} = EXCLUDED.{quote(c)}"
        for c in columns
        if c not in ("account_id", "contact_id")
    )
    # Only quoted names from the model's meta go into the text; every value is a parameter.
    table, names_sql = quote(meta.db_table), ", ".join(quote(c) for c in columns)
    sql = (
        f"INSERT INTO {table} ({names_sql}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({quote(key)}) DO UPDATE SET {updates}"
    )
    params = [
        [f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields] for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _churn_before(accounts: list, contacts: list) -> dict[tuple[str, int], float]:
    """The churn risk each customer had before this refresh (only when a journey listens)."""
    old: dict[tuple[str, int], float] = {}
    for key, rows in (("account", accounts), ("contact", contacts)):
        ids = [getattr(r, f"{key}_id") for r in rows]
        if ids:
            for pk, risk in CustomerScore.objects.filter(**{f"{key}_id__in": ids}).values_list(
                f"{key}_id", "churn_risk"
            ):
                old[(key, pk)] = risk
    return old


def churn_crossings_emit(old: dict[tuple[str, int], float], rows: list, threshold: float) -> int:
    """Emit `churn.risk_crossed` for each customer whose churn risk rose from below the
    threshold to at or above it (a customer scored for the first time has no "before" and
    fires nothing: a first refresh must not start a win-back journey for everyone)."""
    from rapport.automation.outbox import emit

    fired = 0
    for row in rows:
        key = "account" if row.account_id else "contact"
        pk = row.account_id or row.contact_id
        before = old.get((key, pk))
        if before is None or not (before < threshold <= row.churn_risk):
            continue
        emit(
            "churn.risk_crossed",
            object_type=key,
            object_id=pk,
            payload={
                "before": round(before, 4),
                "churn_risk": round(row.churn_risk, 4),
                "threshold": threshold,
                "segment": row.segment,
            },
        )
        fired += 1
    return fired


def _scores_write(*, run: WarehouseRun, result: ScoreResult, computed_at) -> None:
    """Upsert one CustomerScore per scored customer in batches (one short transaction each),
    drop the rows of customers no longer scored, and store the fit reports. Customers whose
    churn risk crosses RAPPORT_CHURN_ALERT_THRESHOLD upwards fire `churn.risk_crossed`."""
    from django.conf import settings

    from rapport.automation.outbox import listened

    threshold = float(getattr(settings, "RAPPORT_CHURN_ALERT_THRESHOLD", 0.7))
    watch_churn = bool(
        listened([("churn.risk_crossed", "account"), ("churn.risk_crossed", "contact")])
    )
    scores = result.scores
    keys = scores.index.to_numpy()
    for lo in range(0, len(keys), SCORE_BATCH):
        batch = scores.iloc[lo : lo + SCORE_BATCH]
        batch_keys = batch.index.to_numpy()
        # A customer deleted since the warehouse read must not break the batch (FK).
        live_accounts = set(
            Account.all_objects.filter(pk__in=[int(k) for k in batch_keys if k > 0]).values_list(
                "pk", flat=True
            )
        )
        live_contacts = set(
            Contact.all_objects.filter(pk__in=[int(-k) for k in batch_keys if k < 0]).values_list(
                "pk", flat=True
            )
        )
        accounts, contacts = [], []
        for key, row in zip(batch_keys, batch.itertuples(index=False), strict=True):
            key = int(key)
            if key > 0 and key in live_accounts:
                accounts.append(_score_row(key, row, run, computed_at))
            elif key < 0 and -key in live_contacts:
                contacts.append(_score_row(key, row, run, computed_at))
        old = _churn_before(accounts, contacts) if watch_churn else {}
        with transaction.atomic():
            _scores_upsert(accounts, "account_id")
            _scores_upsert(contacts, "contact_id")
            if watch_churn:
                churn_crossings_emit(old, accounts + contacts, threshold)
    with transaction.atomic():
        CustomerScore.objects.exclude(run=run).delete()
        ModelFit.objects.bulk_create(
            [
                ModelFit(
                    run=run,
                    model=fit.model,
                    params=jsonable(fit.params),
                    log_likelihood=jsonable(fit.log_likelihood),
                    n_customers=fit.n_customers,
                    converged=fit.converged,
                    calibration=jsonable(fit.calibration),
                    report=jsonable(fit.report),
                    error=fit.error[:2000],
                )
                for fit in result.fits
            ]
        )
