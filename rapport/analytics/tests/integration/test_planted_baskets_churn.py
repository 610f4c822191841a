"""Bundles, up-sell, the closed-account churn classifier and the sBG retention projection,
end to end (database -> refresh -> API), on simulated data with a planted answer.

Orders, lines and activities are written with the ORM in bulk (the services are exercised by
the other tests); the refresh, the models and the API do the rest.
"""

import datetime
from decimal import Decimal

import numpy as np
import pytest
import time_machine

from rapport.accounts.models import Account
from rapport.activities.models import Activity
from rapport.analytics.models import CustomerScore, ModelFit, RunStatus
from rapport.analytics.numeric.cohorts import SbgModel
from rapport.analytics.services import analytics_refresh_now
from rapport.orders.models import Order, OrderLine
from rapport.sales.models import Product

pytestmark = pytest.mark.django_db

SNAPSHOT = datetime.datetime(2025, 6, 30, 12, tzinfo=datetime.UTC)
GROUPS = 8


def _day(days_before: float) -> datetime.datetime:
    return SNAPSHOT - datetime.timedelta(days=float(days_before))


def _orders(account, baskets):
    """baskets: [(when, [(product, price), ...])] -> unsaved orders and their lines."""
    out = []
    for when, items in baskets:
        total = sum(price for _, price in items)
        order = Order(account=account, ordered_at=when, total=Decimal(str(total)))
        out.append((order, items))
    return out


def _save(pairs):
    Order.objects.bulk_create([o for o, _ in pairs])
    OrderLine.objects.bulk_create(
        [
            OrderLine(order=o, product=p, quantity=Decimal("1"), unit_price=Decimal(str(price)))
            for o, items in pairs
            for p, price in items
        ]
    )


def _refresh():
    with time_machine.travel(SNAPSHOT, tick=False):
        run = analytics_refresh_now(full=True)
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


# ----- bundles and up-sell ---------------------------------------------------------------


@pytest.fixture
def basket_world(personas):
    """Eight customer groups. Everyone owns the entry server H0. Group g buys its software
    S_g together with its service V_g (the planted bundles), and its premium server P_g
    (the planted up-sell): half of each group bought P_g before a last small order, the other
    half in their last order. One extra customer per group has not bought P_g yet."""
    products = {"H0": Product.objects.create(sku="H0", name="Entry server", category="hw")}
    prices = {"H0": 100.0}
    for g in range(GROUPS):
        for code, category, price in (
            (f"S{g}", "sw", 50 + 5 * g),
            (f"V{g}", "svc", 40 + 5 * g),
            (f"P{g}", "hw", 500 + 20 * g),
        ):
            products[code] = Product.objects.create(
                sku=code, name=f"Product {code}", category=category
            )
            prices[code] = float(price)

    def item(code):
        return products[code], prices[code]

    accounts, pairs, newcomers = [], [], {}
    for g in range(GROUPS):
        for i in range(16):
            account = Account(name=f"G{g} customer {i}", owner=personas.owner, team=personas.team_a)
            accounts.append((g, i, account))
        newcomer = Account(name=f"G{g} newcomer", owner=personas.owner, team=personas.team_a)
        accounts.append((g, -1, newcomer))
        newcomers[g] = newcomer
    Account.objects.bulk_create([a for _, _, a in accounts])
    for g, i, account in accounts:
        start = 300 + 7 * (i % 5)
        baskets = [
            (_day(start), [item("H0"), item(f"S{g}")]),
            (_day(start - 60), [item(f"S{g}"), item(f"V{g}")]),
        ]
        if i >= 0 and i % 2 == 0:
            baskets += [(_day(start - 120), [item(f"P{g}")]), (_day(30), [item(f"S{g}")])]
        elif i >= 0:
            baskets += [(_day(20 + i), [item(f"P{g}")])]
        pairs += _orders(account, baskets)
    _save(pairs)
    _refresh()
    return {"products": products, "newcomers": newcomers}


def test_bundles_are_the_planted_pairs_with_support_confidence_and_lift(
    basket_world, personas, api_as
):
    products = basket_world["products"]
    data = api_as(personas.reader).get("/api/analytics/bundles", limit=50).data
    bundles = data["bundles"]
    assert len(bundles) >= GROUPS
    planted = {frozenset({products[f"S{g}"].pk, products[f"V{g}"].pk}) for g in range(GROUPS)}
    top = [frozenset(p["id"] for p in b["products"]) for b in bundles[:GROUPS]]
    assert set(top) == planted
    orders = Order.objects.count()
    for bundle in bundles[:GROUPS]:
        assert bundle["orders"] == 17
        assert bundle["support"] == pytest.approx(17 / orders)
        assert bundle["lift"] > 5
        assert 0.3 < bundle["confidence"] <= 1
    assert data["report"]["orders"] == orders


def test_upsell_proposes_the_premium_product_of_similar_customers(basket_world, personas, api_as):
    products = basket_world["products"]
    api = api_as(personas.owner)
    for g, newcomer in basket_world["newcomers"].items():
        data = api.get("/api/analytics/upsell", account_id=newcomer.pk).data
        assert data["items"], data
        first = data["items"][0]
        assert first["product"]["id"] == products[f"P{g}"].pk
        assert first["price"] == pytest.approx(500 + 20 * g)
        assert first["reference_price"] == pytest.approx(100)
        assert first["category"] == "hw"
        score = CustomerScore.objects.get(account=newcomer)
        assert score.upsell_products[0] == products[f"P{g}"].pk
    # Quality on held-out last baskets beats the most popular pricier products.
    fit = ModelFit.objects.get(model="upsell")
    assert fit.report["customers_evaluated"] >= GROUPS * 8
    assert fit.report["hit_rate"] > 0.85
    assert fit.report["popularity_hit_rate"] < 0.1
    assert fit.report["hit_rate"] > fit.report["popularity_hit_rate"] + 0.5


def test_upsell_endpoint_checks_visibility_and_input(basket_world, personas, api_as):
    newcomer = basket_world["newcomers"][0]
    assert (
        api_as(personas.outsider).get("/api/analytics/upsell", account_id=newcomer.pk).status_code
        == 404
    )
    r = api_as(personas.owner).get("/api/analytics/upsell")
    assert r.status_code == 422
    assert r.data["field"] == "account_id"


def test_upsell_and_bundles_before_any_refresh_answer_409(personas, api_as):
    api = api_as(personas.owner)
    assert api.get("/api/analytics/bundles").data["code"] == "no_snapshot"
    account = Account.objects.create(name="A", owner=personas.owner, team=personas.team_a)
    assert api.get("/api/analytics/upsell", account_id=account.pk).data["code"] == "no_snapshot"


# ----- supervised churn on closed accounts -----------------------------------------------


def _churn_world(personas, *, closed_n, open_n, seed=3):
    """Accounts buying every ~25 days for two years. Closed accounts keep buying until they
    close (so recency at the closing day says little), but their activities dried up in the
    three months before closing: the planted effect. Open accounts stay engaged."""
    rng = np.random.default_rng(seed)
    product = Product.objects.create(sku="X", name="Widget", category="w")
    accounts = []
    for i in range(open_n):
        accounts.append(Account(name=f"Open {i}", owner=personas.owner, team=personas.team_a))
    for i in range(closed_n):
        closed_at = (_day(int(rng.integers(10, 300)))).date()
        accounts.append(
            Account(
                name=f"Closed {i}",
                owner=personas.owner,
                team=personas.team_a,
                closed_at=closed_at,
                close_reason="planted",
            )
        )
    Account.objects.bulk_create(accounts)
    pairs, activities = [], []
    for account in accounts:
        cutoff = (
            datetime.datetime.combine(account.closed_at, datetime.time(12), datetime.UTC)
            if account.closed_at
            else SNAPSHOT
        )
        day = SNAPSHOT - datetime.timedelta(days=730 + int(rng.integers(0, 30)))
        while day <= cutoff:
            pairs.append((Order(account=account, ordered_at=day, total=Decimal("80")), None))
            day += datetime.timedelta(days=int(rng.integers(15, 35)))
        day = SNAPSHOT - datetime.timedelta(days=730)
        while day <= cutoff:
            recent = (cutoff - day).days <= 90
            rate = 0.05 if (account.closed_at and recent) else 0.6
            if rng.random() < rate:
                kind = "interaction" if rng.random() < 0.4 else "call"
                activities.append(
                    Activity(kind=kind, owner=personas.owner, account=account, occurred_at=day)
                )
            day += datetime.timedelta(days=7)
    Order.objects.bulk_create([o for o, _ in pairs])
    OrderLine.objects.bulk_create(
        [
            OrderLine(order=o, product=product, quantity=Decimal("1"), unit_price=o.total)
            for o, _ in pairs
        ]
    )
    Activity.objects.bulk_create(activities)


def test_classifier_beats_recency_and_becomes_the_churn_risk(personas, api_as):
    _churn_world(personas, closed_n=60, open_n=90)
    _refresh()
    fit = ModelFit.objects.get(model="churn_classifier")
    assert fit.converged, fit.error
    report = fit.report
    assert (report["closed_accounts"], report["open_accounts"]) == (60, 90)
    assert report["auc"] > 0.85
    assert report["auc"] > report["baseline_auc"] + 0.15
    assert report["beats_baseline"] is True
    # Fewer recent activities raise the risk.
    assert fit.params["weights"]["activities_90d"] < 0
    open_scores = CustomerScore.objects.filter(account__closed_at__isnull=True)
    assert {s.churn_source for s in open_scores} == {"classifier"}
    closed_scores = CustomerScore.objects.filter(account__closed_at__isnull=False)
    assert {s.churn_source for s in closed_scores} == {"closed"}
    assert all(s.churn_risk == 1.0 and not s.at_risk for s in closed_scores)
    # Closed accounts never appear in the at-risk list.
    page = api_as(personas.owner).get("/api/analytics/at-risk", min_churn_risk=0, limit=200).data
    assert not any(item["name"].startswith("Closed") for item in page["items"])
    model_fit = api_as(personas.reader).get("/api/analytics/model-fit").data
    names = {f["model"] for f in model_fit["fits"]}
    assert {"churn_classifier", "bundles", "upsell"} <= names


def test_too_few_closed_accounts_keep_the_purchase_model(personas):
    _churn_world(personas, closed_n=10, open_n=40)
    _refresh()
    fit = ModelFit.objects.get(model="churn_classifier")
    assert not fit.converged
    assert "needs at least 30 closed" in fit.error
    sources = set(
        CustomerScore.objects.filter(account__closed_at__isnull=True).values_list(
            "churn_source", flat=True
        )
    )
    assert sources == {"purchase_model"}


# ----- sBG retention projection ----------------------------------------------------------


TRUE_SBG = SbgModel(alpha=1.5, beta=4.0)


def _sbg_world(personas):
    """1,500 accounts start over 24 months; each has a monthly churn probability drawn from
    Beta(1.5, 4.0) and closes after a geometric number of months (if that is past)."""
    rng = np.random.default_rng(11)
    product = Product.objects.create(sku="C", name="Contract", category="c")
    as_of = SNAPSHOT.date()
    accounts, starts = [], []
    for i in range(1500):
        months_ago = int(rng.integers(0, 24))
        start = (
            datetime.date(as_of.year, as_of.month, 1) - datetime.timedelta(days=30 * months_ago)
        ).replace(day=5)
        lifetime = rng.geometric(rng.beta(1.5, 4.0))  # months until closing, >= 1
        year, month = divmod(start.month - 1 + int(lifetime), 12)
        end = datetime.date(start.year + year, month + 1, 3)
        accounts.append(
            Account(
                name=f"Contract {i}",
                owner=personas.owner,
                team=personas.team_a,
                closed_at=end if end <= as_of else None,
            )
        )
        starts.append(start)
    Account.objects.bulk_create(accounts)
    orders = [
        Order(
            account=a,
            ordered_at=datetime.datetime.combine(s, datetime.time(12), datetime.UTC),
            total=Decimal("10"),
        )
        for a, s in zip(accounts, starts, strict=True)
    ]
    Order.objects.bulk_create(orders)
    OrderLine.objects.bulk_create(
        [OrderLine(order=o, product=product, quantity=1, unit_price=o.total) for o in orders]
    )
    _refresh()


def test_retention_projection_recovers_a_planted_sbg(personas, api_as):
    """The fitted curve matches the true survival and the projection continues it."""
    _sbg_world(personas)
    true = TRUE_SBG
    data = api_as(personas.manager).get("/api/analytics/retention-projection", periods=6).data
    assert data["fitted"], data["note"]
    assert data["accounts"] == 1500
    projected = np.array([p["projected"] for p in data["curve"]])
    ages = np.arange(len(projected))
    assert np.abs(projected[:13] - true.survival(ages[:13])).max() < 0.06
    observed = [p for p in data["curve"] if p["actual"] is not None and p["cohorts_observed"] >= 6]
    assert observed and all(abs(p["actual"] - p["projected"]) < 0.08 for p in observed)
    assert all(p["actual"] is None for p in data["curve"][-6:])
    backtest = data["backtest"]
    assert backtest["months"] == 6 and backtest["accounts_alive_then"] > 300
    assert abs(backtest["relative_error"]) < 0.1
    newest = data["cohorts"][0]
    assert newest["projected_retention"] <= newest["retention"]


def test_retention_projection_without_closed_accounts_explains_itself(personas, api_as):
    product = Product.objects.create(sku="C", name="Contract", category="c")
    account = Account.objects.create(name="Only", owner=personas.owner, team=personas.team_a)
    order = Order.objects.create(account=account, ordered_at=_day(40), total=Decimal("5"))
    OrderLine.objects.create(order=order, product=product, quantity=1, unit_price=Decimal("5"))
    _refresh()
    data = api_as(personas.owner).get("/api/analytics/retention-projection").data
    assert data["fitted"] is False
    assert "close" in data["note"].lower()
