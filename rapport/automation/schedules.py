"""Rules fired by time: cron schedules and "N days before / after a date field". The
scheduler's sweep calls `fire_due_rules`; each firing has a dedupe key, so a second
scheduler or a repeated sweep never doubles a run."""

import datetime
import zoneinfo

from croniter import croniter
from django.conf import settings
from django.db import models
from django.utils import timezone

from rapport.automation import conditions as cond
from rapport.automation.actions import model_for
from rapport.automation.engine import start_run
from rapport.automation.models import Rule, Run, TriggerType

# A sweep missed for up to this many days still fires date-relative rules (once).
DATE_LOOKBACK_DAYS = 2
MAX_RECORDS_PER_FIRING = 10_000


def _zone():
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def next_cron_time(expression: str, after: datetime.datetime) -> datetime.datetime:
    local = after.astimezone(_zone())
    return croniter(expression, local).get_next(datetime.datetime).astimezone(datetime.UTC)


def _records(rule: Rule, qs) -> list:
    out = []
    for record in qs[:MAX_RECORDS_PER_FIRING]:
        if cond.evaluate(rule.conditions, record=record):
            out.append(record)
    return out


def _start_many(rule: Rule, object_type: str, records, key_of) -> int:
    keys = {key_of(r): r for r in records}
    done = set(
        Run.objects.filter(rule=rule, dedupe_key__in=list(keys)).values_list(
            "dedupe_key", flat=True
        )
    )
    started = 0
    for key, record in keys.items():
        if key in done:
            continue
        if start_run(
            rule=rule,
            object_type=object_type,
            object_id=record.pk,
            input={"fired": key},
            dedupe_key=key,
        ):
            started += 1
    return started


def fire_schedules(now: datetime.datetime | None = None) -> int:
    now = now or timezone.now()
    started = 0
    for rule in Rule.objects.filter(
        is_active=True, trigger_type=TriggerType.SCHEDULE, next_fire_at__lte=now
    ):
        fire_at = rule.next_fire_at
        following = next_cron_time(rule.trigger_config["cron"], now)
        # Compare-and-set: only the scheduler that moves next_fire_at fires this slot.
        if not Rule.objects.filter(pk=rule.pk, next_fire_at=fire_at).update(next_fire_at=following):
            continue
        slot = fire_at.strftime("%Y%m%dT%H%M")
        model = model_for(rule.object_type)
        if model is None:
            if start_run(rule=rule, input={"fired": slot}, dedupe_key=f"cron:{slot}"):
                started += 1
            continue
        records = _records(rule, model._default_manager.order_by("pk"))
        started += _start_many(
            rule, rule.object_type, records, lambda r, slot=slot: f"cron:{slot}:{r.pk}"
        )
    return started


def fire_date_rules(now: datetime.datetime | None = None) -> int:
    """Fire "offset_days after (negative: before) the record's date field, at HH:MM"."""
    now = now or timezone.now()
    local = now.astimezone(_zone())
    started = 0
    for rule in Rule.objects.filter(is_active=True, trigger_type=TriggerType.DATE_RELATIVE):
        config = rule.trigger_config or {}
        model = model_for(rule.object_type)
        if model is None:
            continue
        field_name = config["field"]
        offset = int(config.get("offset_days") or 0)
        at = datetime.time.fromisoformat(config.get("at") or "09:00")
        last_day = local.date() if local.time() >= at else local.date() - datetime.timedelta(days=1)
        # Fire day = date + offset, so date = fire day - offset.
        newest = last_day - datetime.timedelta(days=offset)
        oldest = newest - datetime.timedelta(days=DATE_LOOKBACK_DAYS)
        field = model._meta.get_field(field_name)
        lookup = f"{field_name}__date" if isinstance(field, models.DateTimeField) else field_name
        yearly = bool(config.get("yearly"))
        if yearly:
            # Anniversaries: the month and day of any year before this one's firing day.
            days = models.Q()
            for n in range(DATE_LOOKBACK_DAYS + 1):
                d = newest - datetime.timedelta(days=n)
                days |= models.Q(**{f"{lookup}__month": d.month, f"{lookup}__day": d.day})
            qs = model._default_manager.filter(days, **{f"{lookup}__lt": newest}).order_by("pk")
        else:
            qs = model._default_manager.filter(
                **{f"{lookup}__gte": oldest, f"{lookup}__lte": newest}
            ).order_by("pk")
        records = _records(rule, qs)

        def key(record, field_name=field_name, yearly=yearly, year=newest.year):
            value = getattr(record, field_name)
            day = value.date() if isinstance(value, datetime.datetime) else value
            if yearly:
                return f"year:{record.pk}:{year}:{day.month:02d}-{day.day:02d}"
            return f"date:{record.pk}:{day.isoformat()}"

        started += _start_many(rule, rule.object_type, records, key)
    return started


def fire_due_rules(now: datetime.datetime | None = None) -> int:
    return fire_schedules(now) + fire_date_rules(now)
