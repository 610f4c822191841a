"""The observation end ("as of" day) of a refresh: a history that ends in the past is measured
to its end, not to today (by default: the last order's day once it is over 90 days old).

CDNOW (2,357 customers, January 1997 to 30 June 1998) loaded as orders: with the observation
ending at its last order and a 39-week holdout, the calibration fit (data to 30 September
1997) reproduces the BG/NBD estimates of Fader, Hardie and Lee (2005). Measured to today, as
refreshes did before, it did not (r about 0.11, and customers silent since 1998 counted as
gone).
"""

import datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import time_machine

from rapport.accounts.models import Contact
from rapport.analytics.models import AnalyticsSettings, ModelFit, RunStatus
from rapport.analytics.selectors import observation_latest, segments_summary
from rapport.analytics.services import (
    analytics_refresh_now,
    analytics_settings_update,
    observation_end_for,
)
from rapport.orders.models import Order

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent.parent / "data"
TODAY = datetime.datetime(2026, 12, 5, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def cdnow(personas):
    """Every CDNOW transaction as a paid order of one contact per customer (bulk-created:
    the service would take minutes for 6,919 orders)."""
    frame = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master", "customer", "date", "cds", "amount"],
    )
    owner = personas.owner
    contacts = Contact.objects.bulk_create(
        [
            Contact(last_name=f"CDNOW {i}", owner=owner, team=owner.team)
            for i in sorted(frame["customer"].unique())
        ]
    )
    by_customer = dict(zip(sorted(frame["customer"].unique()), contacts, strict=True))
    Order.objects.bulk_create(
        [
            Order(
                contact=by_customer[row.customer],
                ordered_at=datetime.datetime.strptime(str(row.date), "%Y%m%d").replace(
                    hour=12, tzinfo=datetime.UTC
                ),
                status="paid",
                currency="EUR",
                total=Decimal(str(row.amount)),
                created_by=owner,
            )
            for row in frame.itertuples()
        ],
        batch_size=2000,
    )
    AnalyticsSettings.objects.update_or_create(pk=1, defaults={"holdout_weeks": 39})
    return frame


def _refresh():
    with time_machine.travel(TODAY, tick=False):
        run = analytics_refresh_now(full=True)
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


def test_cdnow_measured_to_its_last_order_reproduces_the_published_bgnbd(cdnow):
    run = _refresh()
    assert run.summary["as_of"] == "1998-06-30"
    assert run.summary["observation_end"] == "auto"  # the default chose the last order
    fit = ModelFit.objects.get(run=run, model="bgnbd")
    assert fit.report["calibration_end"] == "1997-09-30"
    calibration = fit.report["calibration_params"]
    assert calibration["r"] == pytest.approx(0.2426, abs=2e-3)
    assert calibration["alpha"] == pytest.approx(4.414, abs=0.05)
    assert calibration["a"] == pytest.approx(0.793, abs=0.01)
    assert calibration["b"] == pytest.approx(2.426, abs=0.05)
    assert fit.report["calibration_log_likelihood"] == pytest.approx(-9582.4, abs=1.0)
    # Said on every page: the history ends long before today.
    with time_machine.travel(TODAY, tick=False):
        window = observation_latest()
    assert window["as_of"] == datetime.date(1998, 6, 30)
    assert (
        window["observation_end_label"] == "automatic: the day of the last order, over 90 days old"
    )
    assert window["days_since_last_order"] > 90
    assert "1998-06-30" in window["warning"]
    assert window["time_unit"] == "weeks"


def test_cdnow_measured_to_today_gives_other_parameters_and_a_warning(cdnow, personas):
    """The old behaviour, now an explicit choice: every customer silent until today."""
    settings = AnalyticsSettings.objects.get(pk=1)
    with time_machine.travel(TODAY, tick=False):
        analytics_settings_update(
            actor=personas.admin,
            fields={"observation_end": "today"},
            expected_version=settings.version,
        )
    run = _refresh()
    assert run.summary["as_of"] == "2026-12-05"
    fit = ModelFit.objects.get(run=run, model="bgnbd")
    assert fit.params["r"] < 0.2  # far from the published 0.243
    with time_machine.travel(TODAY, tick=False):
        window = observation_latest()
    assert "silent" in window["warning"]


def test_a_fixed_observation_end_is_used_and_orders_after_it_are_left_out(cdnow, personas):
    settings = AnalyticsSettings.objects.get(pk=1)
    with time_machine.travel(TODAY, tick=False):
        analytics_settings_update(
            actor=personas.admin,
            fields={"observation_end": "date", "observation_end_date": datetime.date(1997, 9, 30)},
            expected_version=settings.version,
        )
    run = _refresh()
    assert run.summary["as_of"] == "1997-09-30"
    fit = ModelFit.objects.get(run=run, model="bgnbd")
    # The full-data fit on the data to 1997-09-30 is the published calibration fit.
    assert fit.params["r"] == pytest.approx(0.2426, abs=2e-3)
    assert fit.params["a"] == pytest.approx(0.793, abs=0.01)
    # The segments' revenue is the revenue up to that day too, not every order's.
    with time_machine.travel(TODAY, tick=False):
        segments = segments_summary(user=personas.admin)
    revenue = sum(s["revenue"] for s in segments["segments"])
    expected = cdnow.loc[cdnow["date"] <= 19970930, "amount"].sum()
    assert revenue == pytest.approx(expected, abs=0.05)
    assert revenue < cdnow["amount"].sum() - 1


@pytest.mark.parametrize(
    ("mode", "last_order", "expected"),
    [
        ("auto", "2026-12-01", "2026-12-05"),  # a live CRM: today
        ("auto", "2026-09-06", "2026-12-05"),  # 90 days: still today
        ("auto", "2026-09-05", "2026-09-05"),  # 91 days: a history that ended
        ("auto", None, "2026-12-05"),
        ("auto", "2026-12-09", "2026-12-09"),  # orders dated later than today
        ("last_order", "2026-12-01", "2026-12-01"),
        ("last_order", None, "2026-12-05"),
        ("today", "1998-06-30", "2026-12-05"),
        ("date", "2026-12-01", "2025-01-31"),
    ],
)
def test_observation_end_for_each_setting(mode, last_order, expected):
    settings = AnalyticsSettings(
        observation_end=mode, observation_end_date=datetime.date(2025, 1, 31)
    )
    day = observation_end_for(
        settings,
        last_order_day=datetime.date.fromisoformat(last_order) if last_order else None,
        today=datetime.date(2026, 12, 5),
    )
    assert day == datetime.date.fromisoformat(expected)
