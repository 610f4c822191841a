"""The data-at-scale generator (`demo_data --contacts N`): counts, relations, denormalised
columns, timeline events and search, on whichever database the tests run on.

The first test loads on an empty database, so the generator makes the demo users, pipeline and
catalogue itself (`demo_build(accounts=0)`: the service desk's set-up, no cases).
The others start from a saved copy of exactly that build (the `demo-users` snapshot, built once
a run), which is the state the generator itself would have reached before its own rows."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, F, OuterRef, Subquery, Sum
from django.utils import timezone

from rapport.accounts.models import Account, Contact, ContactEmail, ContactPhone
from rapport.activities.models import Activity
from rapport.demo.bulk import build as bulk
from rapport.identity.models import User
from rapport.leads.models import Lead
from rapport.orders.models import Order, OrderLine
from rapport.sales.models import LineItem, Opportunity, StageChange
from rapport.search.selectors import search_typeahead
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _generate(capsys, *args):
    call_command("demo_data", *args)
    return capsys.readouterr().out


def _index_names():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger')")
        else:
            cursor.execute(  # with the statistics targets set on index columns
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() UNION ALL "
                "SELECT conname FROM pg_constraint WHERE contype = 'f' UNION ALL "
                "SELECT c.relname || ':' || a.attstattarget FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relkind = 'i' "
                "AND coalesce(a.attstattarget, -1) >= 0"
            )
        return sorted(row[0] for row in cursor.fetchall())


def test_generates_the_requested_numbers_of_rows_and_prints_the_rate(capsys):
    out = _generate(
        capsys, "--contacts", "300", "--activities", "1200", "--orders", "80", "--accounts", "40"
    )
    assert "rows/s" in out
    assert Contact.objects.count() == 300
    assert ContactEmail.objects.count() == ContactPhone.objects.count() == 300
    assert Account.objects.count() == 40
    assert Lead.objects.count() == 75  # one per four contacts by default
    assert Opportunity.objects.count() == 20  # one per two accounts
    assert Order.objects.count() == 80
    assert Activity.objects.count() == 1200
    # The demo users, pipeline and products were made first (an empty database).
    assert User.objects.filter(username="sam").exists()


def test_relations_and_denormalised_columns_are_what_the_services_write(capsys, demo_snapshot):
    demo_snapshot("demo-users")
    _generate(capsys, "--contacts", "200", "--activities", "600", "--orders", "50")
    # Contacts belong to accounts of the same owner; their primary email and phone are rows.
    assert not Contact.objects.exclude(owner_id=F("account__owner_id")).exists()
    assert not Contact.objects.exclude(emails__email=F("email")).exists()
    assert not Contact.objects.exclude(phones__number=F("phone")).exists()
    # An opportunity's amount is its lines' sum, its probability its stage's; its history
    # starts with no "from" stage and ends at the current stage.
    lines = LineItem.objects.filter(opportunity=OuterRef("pk")).values("opportunity")
    line_sum = lines.annotate(s=Sum(F("quantity") * F("unit_price"))).values("s")
    opportunities = Opportunity.objects.annotate(lines_total=Subquery(line_sum))
    assert opportunities.exists()
    for opp in opportunities:
        assert opp.amount == opp.lines_total
        assert opp.probability == opp.stage.probability
        history = list(StageChange.objects.filter(opportunity=opp).order_by("id"))
        assert history[0].from_stage_id is None and history[-1].to_stage_id == opp.stage_id
        assert (
            TimelineEvent.objects.filter(opportunity=opp, kind="stage_changed").count()
            == len(history) - 1
        )
        assert opp.account.owner_id == opp.owner_id
    # Order totals are their lines' sum.
    order_sums = OrderLine.objects.values("order_id").annotate(
        s=Sum(F("quantity") * F("unit_price"))
    )
    totals = dict(Order.objects.values_list("id", "total"))
    assert {row["order_id"]: row["s"] for row in order_sums} == totals
    # Every activity concerns one record and carries its account; one event each.
    for activity in Activity.objects.select_related("contact", "opportunity"):
        if activity.contact_id:
            assert activity.account_id == activity.contact.account_id
        if activity.opportunity_id:
            assert activity.account_id == activity.opportunity.account_id
    events = TimelineEvent.objects.filter(kind="activity_logged")
    assert events.count() == Activity.objects.count()
    on_records = events.filter(activity__lead__isnull=True)  # a lead has no account
    assert on_records.exists()
    assert not on_records.exclude(account_id=F("activity__account_id")).exists()
    assert (
        not events.exclude(activity__lead__isnull=True)
        .exclude(lead_id=F("activity__lead_id"))
        .exists()
    )
    assert TimelineEvent.objects.filter(kind="created", contact__isnull=False).count() == 200
    assert TimelineEvent.objects.filter(kind="order_placed").count() == 50
    # What happened is in the past, as the services write it (planned activities are
    # logged now); only the activities themselves may be planned ahead.
    assert not TimelineEvent.objects.filter(occurred_at__gt=timezone.now()).exists()
    assert Activity.objects.filter(occurred_at__gt=timezone.now()).exists()
    # Visibility follows the owner's team, as in the services.
    assert not Contact.objects.exclude(team_id=F("owner__team_id")).exists()


def test_search_finds_a_generated_contact(capsys, demo_snapshot):
    demo_snapshot("demo-users")
    _generate(capsys, "--contacts", "120", "--activities", "0", "--orders", "0")
    contact = Contact.objects.order_by("-id").first()
    admin = User.objects.get(username="admin")
    found = search_typeahead(user=admin, q=contact.last_name, types=["contact"], limit=50)
    assert contact.pk in [item["id"] for item in found[0]["items"]]
    by_email = search_typeahead(user=admin, q=contact.email, types=["contact"], limit=5)
    assert [item["id"] for item in by_email[0]["items"]] == [contact.pk]


def test_a_large_load_rebuilds_indexes_and_search_and_leaves_the_schema_as_it_was(
    capsys, monkeypatch, demo_snapshot
):
    demo_snapshot("demo-users")
    before = _index_names()
    # Lower the threshold so that a small load takes the drop-and-rebuild path.
    monkeypatch.setattr(bulk, "REBUILD_MIN_ROWS", 10)
    out = _generate(capsys, "--contacts", "150", "--activities", "300", "--orders", "20")
    assert "building indexes again" in out
    assert _index_names() == before
    contact = Contact.objects.order_by("?").first()
    admin = User.objects.get(username="admin")
    found = search_typeahead(user=admin, q=contact.email, types=["contact"], limit=5)
    assert [item["id"] for item in found[0]["items"]] == [contact.pk]


def test_a_second_run_adds_to_the_data_with_fresh_ids(capsys, demo_snapshot):
    demo_snapshot("demo-users")
    _generate(capsys, "--contacts", "50", "--activities", "100", "--orders", "10")
    _generate(capsys, "--contacts", "50", "--activities", "100", "--orders", "10")
    assert Contact.objects.count() == 100
    assert Activity.objects.count() == 200
    assert not Contact.objects.values("email").annotate(n=Count("id")).filter(n__gt=1).exists()
    # New rows get ids after the generated ones (sequences moved on, on PostgreSQL).
    contact = Contact.objects.create(
        owner=User.objects.get(username="sam"), last_name="After", first_name="Bulk"
    )
    assert contact.pk > 100
