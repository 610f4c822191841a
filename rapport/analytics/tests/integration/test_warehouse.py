"""The warehouse built from orders made through the order service, with a known answer."""

import pytest

from rapport.analytics.models import CustomerScore, RunKind, RunStatus
from rapport.analytics.services import analytics_refresh_now
from rapport.analytics.warehouse import warehouse_reader

pytestmark = pytest.mark.django_db


def test_full_refresh_builds_transactions_without_cancelled_orders(known_base, today):
    run = analytics_refresh_now(full=True)
    assert run.status == RunStatus.SUCCEEDED, run.error
    with warehouse_reader() as con:
        rows = con.execute(
            "SELECT month, channel, sum(amount) FROM transactions GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    assert [(m.isoformat(), c, float(a)) for m, c, a in rows] == [
        ("2024-12-01", "web", 30.0),
        ("2025-01-01", "web", 100.0),
        ("2025-02-01", "store", 240.0),
        ("2025-03-01", "web", 50.0),
        ("2025-06-01", "phone", 150.0),
    ]


def _tables():
    with warehouse_reader() as con:
        return {
            "transactions": con.execute(
                "SELECT order_id, customer_key, day, channel, amount FROM transactions "
                "ORDER BY order_id"
            ).fetchall(),
            "order_lines": con.execute(
                "SELECT line_id, order_id, customer_key, category, amount FROM order_lines "
                "ORDER BY line_id"
            ).fetchall(),
            "customers": con.execute("SELECT * FROM customers ORDER BY customer_key").fetchall(),
            "scores": con.execute(
                "SELECT customer_key, segment, round(clv, 6), round(churn_risk, 9) "
                "FROM customer_scores ORDER BY customer_key"
            ).fetchall(),
        }


def _score_rows():
    return sorted(
        (s.account_id or 0, s.contact_id or 0, s.segment, s.clv, round(s.churn_risk, 9))
        for s in CustomerScore.objects.all()
    )


def test_customer_unit_is_the_account_else_the_contact(known_base, today):
    analytics_refresh_now(full=True)
    with warehouse_reader() as con:
        rows = con.execute(
            "SELECT customer_key, kind, account_id, contact_id, name, territory, orders, revenue "
            "FROM customers ORDER BY customer_key"
        ).fetchall()
    carol, alpha, beta = known_base.carol, known_base.alpha, known_base.beta
    assert rows == [
        (-carol.pk, "contact", None, carol.pk, "Carol Buyer", None, 1, 30.0),
        (alpha.pk, "account", alpha.pk, None, "Alpha", "FR", 3, 300.0),
        (beta.pk, "account", beta.pk, None, "Beta", "DE", 2, 240.0),
    ]


def test_lines_carry_product_categories(known_base, today):
    analytics_refresh_now(full=True)
    with warehouse_reader() as con:
        rows = con.execute(
            "SELECT category, sum(amount) FROM order_lines GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert rows == [("hardware", 250.0), ("services", 70.0), ("software", 250.0)]


def test_amounts_in_other_currencies_convert_at_the_rate_of_the_order_day(
    personas, products, today
):
    import datetime
    from decimal import Decimal

    from rapport.accounts.services import account_create
    from rapport.analytics.tests.integration.warehouse_fixtures import buy
    from rapport.sales.models import ExchangeRate

    ExchangeRate.objects.create(currency="USD", rate=Decimal("0.5"), valid_from="2025-01-01")
    ExchangeRate.objects.create(currency="USD", rate=Decimal("0.8"), valid_from="2025-03-01")
    yankee = account_create(actor=personas.owner, fields={"name": "Yankee", "currency": "USD"})
    buy(personas.owner, yankee, "2025-02-10", [(products["P1"], 100)])
    buy(personas.owner, yankee, "2025-04-10", [(products["P1"], 100)])
    buy(personas.owner, yankee, "2024-06-10", [(products["P1"], 100)])  # before any rate
    run = analytics_refresh_now(full=True)
    assert run.summary["unconverted_orders"] == 1
    with warehouse_reader() as con:
        amounts = con.execute("SELECT day, amount FROM transactions ORDER BY day").fetchall()
    assert amounts == [
        (datetime.date(2024, 6, 10), None),
        (datetime.date(2025, 2, 10), 50.0),
        (datetime.date(2025, 4, 10), 80.0),
    ]


def test_incremental_refresh_reads_only_new_orders_and_equals_a_full_rebuild(
    known_base, personas, products
):
    import time_machine

    from rapport.analytics.tests.integration.warehouse_fixtures import TODAY, buy

    with time_machine.travel(TODAY, tick=False):
        first = analytics_refresh_now(full=True)
    with time_machine.travel("2025-07-02T09:00:00Z", tick=False):
        buy(personas.owner, known_base.beta, "2025-07-01", [(products["P1"], 70)])
        buy(personas.owner, known_base.carol, "2025-07-02", [(products["P2"], 20)])
    with time_machine.travel("2025-07-03T09:00:00Z", tick=False):
        run = analytics_refresh_now()
        assert run.status == RunStatus.SUCCEEDED, run.error
        assert run.kind == RunKind.INCREMENTAL
        assert run.rows == 2
        assert run.watermark > first.watermark
        incremental, incremental_scores = _tables(), _score_rows()
        full = analytics_refresh_now(full=True)
        assert full.rows == 9
        assert _tables() == incremental
        assert _score_rows() == incremental_scores


def test_incremental_refresh_applies_changed_and_deleted_orders(known_base, personas):
    import time_machine

    from rapport.analytics.tests.integration.warehouse_fixtures import TODAY
    from rapport.orders.models import Order
    from rapport.orders.services import order_delete, order_update

    with time_machine.travel(TODAY, tick=False):
        analytics_refresh_now(full=True)
    with time_machine.travel("2025-07-02T09:00:00Z", tick=False):
        beta_orders = list(Order.objects.filter(account=known_base.beta).order_by("id"))
        order_update(order=beta_orders[0], actor=personas.owner, fields={"status": "refunded"})
        order_delete(order=Order.objects.get(contact=known_base.carol), actor=personas.owner)
    with time_machine.travel("2025-07-03T09:00:00Z", tick=False):
        run = analytics_refresh_now()
        assert (run.kind, run.rows, run.summary["orders_deleted"]) == (RunKind.INCREMENTAL, 1, 1)
        incremental = _tables()
        assert [r[1] for r in incremental["transactions"]] == [known_base.alpha.pk] * 3 + [
            known_base.beta.pk
        ]
        analytics_refresh_now(full=True)
        assert _tables() == incremental


def test_a_missing_warehouse_file_makes_the_next_refresh_full(known_base, today, warehouse_file):
    analytics_refresh_now(full=True)
    warehouse_file.unlink()
    run = analytics_refresh_now()
    assert (run.status, run.kind, run.rows) == (RunStatus.SUCCEEDED, RunKind.FULL, 7)


def test_a_failed_refresh_keeps_the_previous_snapshot(
    known_base, today, monkeypatch, warehouse_file
):
    from rapport.analytics import services

    good = analytics_refresh_now(full=True)

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    # Failure injection: the scoring step breaks after the warehouse copy was built.
    monkeypatch.setattr(services, "compute_scores", explode)
    run = analytics_refresh_now(full=True)
    assert run.status == RunStatus.FAILED
    assert "disk full" in run.error
    with warehouse_reader() as con:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    assert meta["run_id"] == str(good.pk)
    assert CustomerScore.objects.filter(run=good).count() == 3
    leftovers = [p for p in warehouse_file.parent.iterdir() if p != warehouse_file]
    assert leftovers == []


def test_refresh_command_runs_a_refresh(known_base, today):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("analytics_refresh", "--full", stdout=out)
    assert "3 customers scored" in out.getvalue()
    assert CustomerScore.objects.count() == 3
