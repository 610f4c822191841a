"""The backtest on planted history with a known truth.

Every month of the last eight: ten deals of 1,000 enter "Proposal" on the 20th of the month
before and close on the 10th: five won, five lost. The stage default says 20 %. So as of each
month's start ten deals are open, the actual is exactly 5,000, the naive forecast (amount ×
stage default of the deals due in the month) exactly 2,000, and the conversion learned from
earlier months moves from 20 % towards 50 %: P50 beats naive once history exists."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from rapport.forecasts.compute import backtest
from rapport.forecasts.history import learn_columns, load_closed, load_history
from rapport.forecasts.periods import MONTH, period_containing
from rapport.sales.models import Opportunity, Pipeline, Stage, StageChange


def _aware(day, hour=9):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def plant(owner, months=8, today=None):
    today = today or timezone.localdate()
    pipeline = Pipeline.objects.create(name="Planted")
    proposal = Stage.objects.create(pipeline=pipeline, name="Proposal", position=1, probability=20)
    won = Stage.objects.create(
        pipeline=pipeline, name="Won", position=2, kind="won", probability=100
    )
    lost = Stage.objects.create(
        pipeline=pipeline, name="Lost", position=3, kind="lost", probability=0
    )
    current = period_containing(MONTH, today)
    for back in range(months, 0, -1):
        month = current.shifted(-back)
        entered = _aware(month.start.replace(day=1) - datetime.timedelta(days=11))  # ~20th
        closed = _aware(month.start.replace(day=10))
        for i in range(10):
            outcome = won if i < 5 else lost
            opp = Opportunity.objects.create(
                owner=owner,
                name=f"{month.key} #{i}",
                pipeline=pipeline,
                stage=outcome,
                amount=Decimal("1000"),
                expected_close_date=month.start.replace(day=10),
                closed_at=closed,
                lost_reason="" if outcome == won else "price",
            )
            Opportunity.objects.filter(pk=opp.pk).update(created_at=entered)
            StageChange.objects.create(
                opportunity=opp, to_stage=proposal, changed_at=entered, amount=Decimal("1000")
            )
            StageChange.objects.create(
                opportunity=opp,
                from_stage=proposal,
                to_stage=outcome,
                changed_at=closed,
                amount=Decimal("1000"),
            )
    return current, proposal


@pytest.mark.django_db
def test_backtest_replays_each_month_as_of_its_start(personas):
    current, proposal = plant(personas.owner)
    history = load_history(Opportunity.objects.filter(pipeline__name="Planted"))
    result = backtest(
        history, history.deals, current, closed=load_closed(history), periods=6, sims=2000
    )
    rows = result["rows"]
    assert [r["period"] for r in rows] == [current.shifted(-k).key for k in range(6, 0, -1)]
    assert all(r["open_deals"] == 10 for r in rows)
    assert all(r["actual"] == 5000 for r in rows)
    assert all(r["naive"] == 2000 for r in rows)
    summary = result["summary"]
    assert summary["enough_history"] and summary["message"] == ""
    assert summary["naive_mae"] == 3000
    assert summary["p50_mae"] < summary["naive_mae"]
    # The learned rate climbs towards the truth, so later months centre on 5,000.
    assert rows[-1]["p10"] <= 5000 <= rows[-1]["p90"]
    assert summary["inside"] == sum(r["inside"] for r in rows)


@pytest.mark.django_db
def test_conversion_is_learned_only_from_deals_closed_before(personas):
    current, proposal = plant(personas.owner, months=3)
    history = load_history(Opportunity.objects.filter(pipeline__name="Planted"))
    closed = load_closed(history)
    first = current.shifted(-3)
    at_first = learn_columns(history.stages, closed, _aware(first.start, 0))
    assert at_first.conversion[proposal.pk] == pytest.approx(0.2)  # nothing closed yet: prior
    assert at_first.timing.remaining == {}
    later = learn_columns(history.stages, closed, _aware(current.start, 0))
    # 15 won of 30 entered, prior 10 deals at 20 %: (15 + 2) / 40.
    assert later.conversion[proposal.pk] == pytest.approx(17 / 40)
    assert later.conversion_n == {proposal.pk: 30}
    # Each won deal entered Proposal 11 days before the 1st at 09:00 and was won on the
    # 10th at 09:00: 20 days (an hour more or less across a daylight-saving change).
    stays = later.timing.remaining[proposal.pk].tolist()
    assert len(stays) == 15
    assert all(abs(stay - 20) <= 1 / 24 + 1e-9 for stay in stays)


@pytest.mark.django_db
def test_too_little_history_is_said(personas):
    current, _ = plant(personas.owner, months=2)
    history = load_history(Opportunity.objects.filter(pipeline__name="Planted"))
    result = backtest(
        history, history.deals, current, closed=load_closed(history), periods=6, sims=200
    )
    assert result["summary"]["periods"] == 2
    assert not result["summary"]["enough_history"]
    assert "Too little history" in result["summary"]["message"]
