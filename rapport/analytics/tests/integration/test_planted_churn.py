"""End to end with a planted effect: customers who stopped buying come out as at risk.

Sixty customers bought steadily for two years; twenty of them, the biggest spenders, stopped
nine months before the snapshot. Orders are written with the ORM in bulk (the order service
is exercised by the other tests); the refresh, the models and the API do the rest.
"""

import datetime
from decimal import Decimal

import numpy as np
import pytest
import time_machine

from rapport.accounts.models import Account
from rapport.analytics.models import CustomerScore, RunStatus
from rapport.analytics.services import analytics_refresh_now
from rapport.orders.models import Order, OrderLine

pytestmark = pytest.mark.django_db

START = datetime.datetime(2023, 7, 1, 12, tzinfo=datetime.UTC)
STOP = datetime.datetime(2024, 9, 30, 12, tzinfo=datetime.UTC)
SNAPSHOT = datetime.datetime(2025, 6, 30, 12, tzinfo=datetime.UTC)


def _history(account, rng, *, every_days, until, amount):
    orders = []
    day = START + datetime.timedelta(days=int(rng.integers(0, every_days)))
    while day <= until:
        orders.append(Order(account=account, ordered_at=day, total=Decimal(amount)))
        day += datetime.timedelta(days=int(rng.integers(every_days // 2, every_days * 3 // 2)))
    return orders


@pytest.fixture
def planted(personas):
    rng = np.random.default_rng(7)
    steady, stopped = [], []
    for i in range(40):
        steady.append(Account(name=f"Steady {i}", owner=personas.owner, team=personas.team_a))
    for i in range(20):
        stopped.append(Account(name=f"Stopped {i}", owner=personas.owner, team=personas.team_a))
    foreign = Account(name="Foreign stopped", owner=personas.outsider, team=personas.team_b)
    Account.objects.bulk_create([*steady, *stopped, foreign])
    orders = []
    for account in steady:
        orders += _history(account, rng, every_days=21, until=SNAPSHOT, amount="60.00")
    for account in [*stopped, foreign]:
        orders += _history(account, rng, every_days=10, until=STOP, amount="150.00")
    Order.objects.bulk_create(orders)
    OrderLine.objects.bulk_create(
        [OrderLine(order=o, unit_price=o.total, quantity=Decimal("1")) for o in orders]
    )
    with time_machine.travel(SNAPSHOT, tick=False):
        run = analytics_refresh_now(full=True)
    assert run.status == RunStatus.SUCCEEDED, run.error
    return {"steady": steady, "stopped": stopped, "foreign": foreign}


def _risks(accounts):
    rows = CustomerScore.objects.filter(account__in=accounts)
    return np.array([s.churn_risk for s in rows]), [s.segment for s in rows]


def test_customers_who_stopped_buying_have_high_churn_risk(planted):
    stopped, stopped_segments = _risks(planted["stopped"])
    steady, _ = _risks(planted["steady"])
    assert np.median(stopped) > 0.9
    assert np.median(steady) < 0.2
    assert stopped.min() > steady.max() - 0.5
    assert set(stopped_segments) <= {"at risk", "can't lose them", "hibernating", "lost"}


def test_the_at_risk_list_is_the_stopped_big_spenders_the_user_can_see(planted, personas, api_as):
    page = api_as(personas.owner).get("/api/analytics/at-risk", limit=200).data
    names = {item["name"] for item in page["items"]}
    assert names and all(name.startswith("Stopped") for name in names)
    assert len(names) >= 10
    values = [float(item["value_at_risk"]) for item in page["items"]]
    assert values == sorted(values, reverse=True)
    admin = api_as(personas.admin).get("/api/analytics/at-risk", limit=200).data
    assert "Foreign stopped" in {item["name"] for item in admin["items"]}
    outsider = api_as(personas.outsider).get("/api/analytics/at-risk", limit=200).data
    assert {item["name"] for item in outsider["items"]} == {"Foreign stopped"}


def test_segments_show_the_stopped_group(planted, personas, api_as):
    data = api_as(personas.owner).get("/api/analytics/segments").data
    assert data["customers"] == 60
    quiet = sum(
        s["customers"]
        for s in data["segments"]
        if s["segment"] in {"at risk", "can't lose them", "hibernating", "lost"}
    )
    assert quiet >= 20
    kpis = api_as(personas.owner).get("/api/analytics/kpis", months=6).data
    # All 60 bought in the six months before the window; only the steady 40 in it.
    assert kpis["customers"] == 40
    assert kpis["churn_rate"] == pytest.approx(20 / 60)
    recent = api_as(personas.owner).get("/api/analytics/kpis", months=3).data
    assert recent["churn_rate"] == pytest.approx(0.0)
