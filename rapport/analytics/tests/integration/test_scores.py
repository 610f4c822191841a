"""Scores computed by a refresh and stored per customer, with a hand-computed answer."""

import datetime

import numpy as np
import pandas as pd
import pytest

from rapport.analytics.models import CustomerScore, ModelFit, RunStatus
from rapport.analytics.numeric.summary import customer_summary
from rapport.analytics.scoring import customer_summary_sql
from rapport.analytics.services import analytics_refresh_now
from rapport.analytics.warehouse import warehouse_reader

pytestmark = pytest.mark.django_db


def _refresh():
    run = analytics_refresh_now(full=True)
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


def test_rfm_scores_and_segments_match_the_hand_computed_answer(known_base, today):
    # As of 2025-06-30: recency 10 / 149 / 207 days, occasions 3 / 1 / 1 (Beta's two orders
    # on one day are one occasion), revenue 300 / 240 / 30 (the cancelled order excluded).
    # Quintile cuts (linear): recency 65.6, 121.2, 160.6, 183.8; frequency 1, 1, 1.4, 2.2;
    # monetary 114, 198, 252, 276. So R = 5/3/1, F = 5/1/1, M = 5/3/1, FM = 5/2/1.
    _refresh()
    alpha = CustomerScore.objects.get(account=known_base.alpha)
    beta = CustomerScore.objects.get(account=known_base.beta)
    carol = CustomerScore.objects.get(contact=known_base.carol)
    assert (alpha.recency_days, beta.recency_days, carol.recency_days) == (10, 149, 207)
    assert (alpha.orders, beta.orders, carol.orders) == (3, 1, 1)
    assert [float(s.revenue) for s in (alpha, beta, carol)] == [300.0, 240.0, 30.0]
    assert (alpha.r_score, alpha.f_score, alpha.m_score) == (5, 5, 5)
    assert (beta.r_score, beta.f_score, beta.m_score) == (3, 1, 3)
    assert (carol.r_score, carol.f_score, carol.m_score) == (1, 1, 1)
    assert (alpha.segment, beta.segment, carol.segment) == (
        "champions",
        "potential loyalists",
        "lost",
    )
    assert carol.account_id is None and beta.contact_id is None


def test_rfm_thresholds_are_stored_with_the_run(known_base, today):
    run = _refresh()
    fit = ModelFit.objects.get(run=run, model="rfm")
    recency = next(t for t in fit.params["thresholds"] if t["measure"] == "recency_days")
    assert [round(recency[f"q{p}"], 1) for p in (20, 40, 60, 80)] == [65.6, 121.2, 160.6, 183.8]


def test_model_scores_are_filled_and_consistent(known_base, today):
    run = _refresh()
    scores = list(CustomerScore.objects.all())
    assert len(scores) == 3
    for s in scores:
        assert s.run_id == run.pk
        assert 0.0 <= s.p_alive <= 1.0
        assert s.churn_risk == pytest.approx(1.0 - s.p_alive)
        assert s.expected_purchases_52w >= s.expected_purchases_12w >= 0
        assert s.clv >= 0
        assert s.profit == s.revenue  # no cost rates configured
    # One-time buyers cannot have dropped out under BG/NBD.
    assert CustomerScore.objects.get(contact=known_base.carol).p_alive == 1.0
    fits = {f.model: f for f in ModelFit.objects.filter(run=run)}
    assert {"rfm", "bgnbd", "gammagamma", "paretonbd", "next_products"} <= set(fits)
    assert set(fits["bgnbd"].params) == {"r", "alpha", "a", "b"}


def test_next_products_are_products_the_customer_has_not_bought(known_base, products, today):
    _refresh()
    beta = CustomerScore.objects.get(account=known_base.beta)  # owns P2 and P3
    assert beta.next_products == [products["P1"].pk]
    carol = CustomerScore.objects.get(contact=known_base.carol)  # owns P3
    assert set(carol.next_products) == {products["P1"].pk, products["P2"].pk}


def test_profit_subtracts_cost_to_serve_and_marketing(known_base, personas, today):
    from rapport.activities.models import Activity
    from rapport.analytics.services import analytics_settings_get, analytics_settings_update

    for kind in ("call", "call", "meeting"):
        Activity.objects.create(
            kind=kind,
            owner=personas.owner,
            account=known_base.beta,
            occurred_at=datetime.datetime(2025, 3, 1, tzinfo=datetime.UTC),
        )
    settings_row = analytics_settings_get()
    analytics_settings_update(
        actor=personas.admin,
        fields={"cost_per_call": 5, "cost_per_meeting": 40, "marketing_cost_per_year": 90},
        expected_version=settings_row.version,
    )
    _refresh()
    beta = CustomerScore.objects.get(account=known_base.beta)
    assert float(beta.cost_to_serve) == 50.0
    # All three customers were acquired in the last year: 30 each.
    assert float(beta.marketing_cost) == 30.0
    assert float(beta.profit) == 240.0 - 50.0 - 30.0


def test_summary_sql_matches_the_numeric_core(known_base, today):
    _refresh()
    with warehouse_reader() as con:
        sql = customer_summary_sql(
            con,
            calibration_end=datetime.date(2025, 3, 31),
            observation_end=datetime.date(2025, 6, 30),
        )
        tx = con.execute("SELECT customer_key, day, amount FROM transactions").df()
    reference = customer_summary(
        tx.rename(columns={"customer_key": "customer_id", "day": "date"}),
        calibration_end="2025-03-31",
        observation_end="2025-06-30",
    )
    columns = ["frequency", "recency", "T", "monetary", "frequency_holdout", "duration_holdout"]
    pd.testing.assert_frame_equal(
        sql[columns].astype(np.float64),
        reference[columns].astype(np.float64),
        check_names=False,
    )


def test_scores_of_customers_no_longer_buying_are_removed(known_base, personas, today):
    from rapport.orders.models import Order
    from rapport.orders.services import order_delete

    _refresh()
    order = Order.objects.get(contact=known_base.carol)
    order_delete(order=order, actor=personas.owner)
    _refresh()
    assert not CustomerScore.objects.filter(contact=known_base.carol).exists()
    assert CustomerScore.objects.count() == 2
