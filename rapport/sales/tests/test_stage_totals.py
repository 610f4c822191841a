"""`StageTotal` (kept by the triggers of sales/stage_totals.py) equals a recomputation from
the opportunities after every kind of write: the services (create, update of the amount,
probability, currency, stage and owner, soft delete, restore, merge of the account), the
import, `bulk_create`, `QuerySet.update()`, deletes, raw SQL, the bulk loader's COPY, a
rollback; and the admin's pipeline KPI and board read it."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from rapport.accounts.services import account_create
from rapport.duplicates.services.merge import record_merge
from rapport.imports.tests.conftest import csv_bytes
from rapport.imports.tests.conftest import run as run  # noqa: F401 - fixtures
from rapport.imports.tests.conftest import upload as upload  # noqa: F401
from rapport.sales import stage_totals
from rapport.sales.models import Opportunity, StageTotal
from rapport.sales.services import (
    opportunity_delete,
    opportunity_move_stage,
    opportunity_restore,
    opportunity_update,
    stage_create,
    stage_delete,
)
from rapport.web import dashboard


def assert_consistent():
    assert stage_totals.stored() == stage_totals.recomputed()


@pytest.fixture
def deals(personas, make_opportunity, stages):
    made = [
        make_opportunity(name="A", amount=Decimal("1000.10")),
        make_opportunity(name="B", amount=Decimal("250.55"), stage=stages["Proposal"]),
        make_opportunity(name="C", amount=Decimal("99.99"), currency="USD"),
        make_opportunity(owner=personas.outsider, name="D", amount=Decimal("5")),
    ]
    assert_consistent()
    assert stage_totals.stored()  # not trivially equal: both empty
    return made


def test_the_triggers_exist_after_all_migrations(db):
    assert stage_totals.installed_triggers() == stage_totals.TRIGGERS[connection.vendor]


def test_ensure_puts_back_dropped_triggers_and_refills(deals):
    stage_totals.uninstall()
    Opportunity.objects.filter(pk=deals[0].pk).update(amount=Decimal("1"))
    assert stage_totals.stored() != stage_totals.recomputed()  # unkept without them
    assert stage_totals.ensure() is True
    assert_consistent()
    assert stage_totals.ensure() is False


def test_update_of_amount_probability_currency_and_owner(personas, deals):
    deal = deals[0]
    opportunity_update(opportunity=deal, actor=personas.owner, fields={"amount": Decimal("7.07")})
    assert_consistent()
    deal.refresh_from_db()
    opportunity_update(opportunity=deal, actor=personas.owner, fields={"probability": 77})
    assert_consistent()
    deal.refresh_from_db()
    opportunity_update(opportunity=deal, actor=personas.owner, fields={"currency": "GBP"})
    assert_consistent()
    deal.refresh_from_db()
    opportunity_update(opportunity=deal, actor=personas.owner, fields={}, owner=personas.teammate)
    assert_consistent()
    assert stage_totals.stored()[(deal.stage_id, "GBP", 77)] == (1, 707)


def test_stage_moves_to_open_won_and_lost(personas, deals, stages):
    won = next(s for s in stages.values() if s.kind == "won")
    lost = next(s for s in stages.values() if s.kind == "lost")
    opportunity_move_stage(opportunity=deals[0], stage=stages["Proposal"], actor=personas.owner)
    assert_consistent()
    opportunity_move_stage(opportunity=deals[1], stage=won, actor=personas.owner)
    assert_consistent()
    deal = Opportunity.objects.get(pk=deals[2].pk)
    opportunity_move_stage(opportunity=deal, stage=lost, actor=personas.owner, lost_reason="Price")
    assert_consistent()


def test_soft_delete_restore_and_hard_delete(personas, deals):
    opportunity_delete(opportunity=deals[0], actor=personas.owner)
    assert_consistent()
    deal = Opportunity.all_objects.get(pk=deals[0].pk)
    opportunity_restore(opportunity=deal, actor=personas.owner)
    assert_consistent()
    Opportunity.all_objects.filter(pk=deals[1].pk).delete()
    assert_consistent()


def test_queryset_update_bulk_create_and_raw_sql(personas, deals, stages):
    Opportunity.objects.update(amount=Decimal("3.30"), probability=40)
    assert_consistent()
    template = Opportunity.objects.get(pk=deals[0].pk)
    copies = []
    for i in range(5):
        template.pk = None
        template.name = f"copy {i}"
        template.amount = Decimal(i) + Decimal("0.25")
        copies.append(
            Opportunity(
                **{
                    f.attname: getattr(template, f.attname)
                    for f in Opportunity._meta.concrete_fields
                }
            )
        )
    Opportunity.objects.bulk_create(copies)
    assert_consistent()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sales_opportunity SET stage_id = %s, currency = 'CHF' WHERE name LIKE 'copy%%'",
            [stages["Proposal"].pk],
        )
        cursor.execute("DELETE FROM sales_opportunity WHERE name = 'copy 1'")
    assert_consistent()
    Opportunity.objects.filter(name="copy 2").update(deleted_at="2026-01-01T00:00:00Z")
    assert_consistent()


def test_a_rolled_back_write_leaves_the_totals_as_they_were(personas, deals):
    before = stage_totals.stored()
    with pytest.raises(RuntimeError), transaction.atomic():
        Opportunity.objects.update(amount=Decimal("1"))
        raise RuntimeError
    assert stage_totals.stored() == before
    assert_consistent()


def test_an_update_of_other_columns_writes_no_totals(personas, deals):
    before = {t.pk: (t.count, t.cents) for t in StageTotal.objects.all()}
    Opportunity.objects.update(name="renamed", description="x")
    assert {t.pk: (t.count, t.cents) for t in StageTotal.objects.all()} == before


def test_merging_accounts_keeps_the_totals(personas, make_opportunity):
    one = account_create(actor=personas.owner, fields={"name": "Acme"})
    two = account_create(actor=personas.owner, fields={"name": "Acme Inc"})
    make_opportunity(name="X", account=one, amount=Decimal("10"))
    make_opportunity(name="Y", account=two, amount=Decimal("20"))
    record_merge(
        object_type="account", survivor=one, merged=two, field_choices={}, actor=personas.owner
    )
    assert Opportunity.objects.filter(account=one).count() == 2
    assert_consistent()


def test_import_of_opportunities(personas, upload, run, make_opportunity):  # noqa: F811
    account_create(actor=personas.owner, fields={"name": "Acme"})
    data = csv_bytes(
        [
            ["Deal name", "Company", "Stage", "Amount"],
            ["Big deal", "Acme", "Proposal", "1,500.25"],
            ["Other deal", "Acme", "Proposal", "10"],
        ]
    )
    run(upload(personas.owner, data, object_type="opportunities"))
    assert Opportunity.objects.count() == 2
    assert_consistent()
    data = csv_bytes([["Deal name", "Company", "Stage", "Amount"], ["Big deal", "Acme", "", "3"]])
    run(upload(personas.owner, data, object_type="opportunities"))
    assert_consistent()


def test_stage_create_and_delete(personas, deals, pipeline):
    stage = stage_create(pipeline=pipeline, actor=personas.admin, fields={"name": "Extra"})
    opportunity_move_stage(opportunity=deals[0], stage=stage, actor=personas.owner)
    assert_consistent()
    fresh = stage_create(pipeline=pipeline, actor=personas.admin, fields={"name": "Unused"})
    stage_delete(stage=fresh, actor=personas.admin)
    assert_consistent()


def test_the_admins_pipeline_kpi_reads_the_totals_and_equals_the_aggregate(
    personas, deals, django_assert_max_num_queries
):
    # The rep's path aggregates the opportunities; the admin's reads StageTotal. Make the
    # admin answer for exactly what the owner does, then compare.
    Opportunity.objects.exclude(owner=personas.owner).delete()
    with django_assert_max_num_queries(3):  # the totals, the stages, the exchange rates
        admin_view = dashboard.pipeline_by_stage(user=personas.admin)
    owner_view = dashboard.pipeline_by_stage(user=personas.owner)
    assert [(r.stage_id, r.count, r.amount) for r in admin_view.rows] == [
        (r.stage_id, r.count, r.amount) for r in owner_view.rows
    ]
    assert admin_view.amount == owner_view.amount == Decimal("1000.10") + Decimal("250.55")
    assert admin_view.weighted == owner_view.weighted
    assert admin_view.missing_rates == owner_view.missing_rates == ["USD"]
    with connection.cursor() as cursor:  # the opportunities are not read at all
        cursor.execute("UPDATE sales_stagetotal SET cents = cents + 100")
    assert dashboard.pipeline_by_stage(user=personas.admin).amount != owner_view.amount


@pytest.mark.django_db(transaction=True)
def test_the_bulk_loader_keeps_the_totals(capsys, demo_snapshot):
    demo_snapshot("demo-users")  # the users and pipeline the loader would make first
    call_command("demo_data", "--contacts", "60", "--activities", "60", "--orders", "10")
    assert Opportunity.objects.exists()
    assert_consistent()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_copy_and_truncate_on_postgresql(personas, deals):
    # The bulk loader's path: COPY the active opportunities back in (every writable column
    # but the id), then TRUNCATE.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = "
            "'sales_opportunity' AND column_name <> 'id' AND is_generated = 'NEVER' "
            "ORDER BY ordinal_position"
        )
        columns = ", ".join(name for (name,) in cursor.fetchall())
    raw = connection.connection.cursor()
    data = b""
    with raw.copy(
        f"COPY (SELECT {columns} FROM sales_opportunity WHERE deleted_at IS NULL) TO STDOUT"
    ) as copy:
        for block in copy:
            data += bytes(block)
    with raw.copy(f"COPY sales_opportunity ({columns}) FROM STDIN") as copy:
        copy.write(data)
    assert Opportunity.objects.count() == 2 * len(deals)
    assert_consistent()
    with connection.cursor() as cursor:
        # The deferred foreign-key checks of the COPY first: no TRUNCATE with queued ones.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE sales_opportunity CASCADE")
    assert stage_totals.stored() == {} == stage_totals.recomputed()
