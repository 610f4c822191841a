"""`demo_data --if-empty --accounts N`: one small demo company (a build is the slow part, so one
build serves every claim about it): every persona has records, and loading it computes what the
background jobs would (the analytics pages and the duplicates queue have something to show on
the first visit, with no worker involved)."""

import pytest
from django.core.management import call_command
from django.test import Client

from rapport.accounts.models import Account, Contact
from rapport.activities.models import Activity
from rapport.analytics.models import CustomerScore, RunStatus, WarehouseRun
from rapport.duplicates.models import DuplicateCandidate, DuplicateRun
from rapport.identity.models import User
from rapport.leads.models import Lead
from rapport.orders.models import Order
from rapport.records.visibility import editable, visible
from rapport.sales.models import Opportunity
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


def test_demo_data_builds_a_small_company_once_where_every_persona_has_records(capsys):
    call_command("demo_data", "--if-empty", "--accounts", "12")
    out = capsys.readouterr().out
    assert "Demo logins" in out and "maria" in out
    assert Account.objects.count() == 12
    assert Order.objects.exists() and Activity.objects.exists() and Opportunity.objects.exists()
    assert TimelineEvent.objects.filter(kind="stage_changed").exists()
    # Key accounts with a manual service tier (the account page's Cases card shows it).
    from rapport.cases.models import AccountServiceTier, Case
    from rapport.demo.cases import demo_case_count

    assert AccountServiceTier.objects.filter(tier="platinum").count() == 2
    # The service desk follows the demo's size: a few cases here, 300 in the default demo.
    assert Case.objects.count() == demo_case_count(12) == 18
    assert demo_case_count(200) == 300
    sam, nick, rita = (User.objects.get(username=name) for name in ("sam", "nick", "rita"))
    # Spread over users and teams: reps of different teams see different accounts.
    assert set(visible(Account.objects.all(), sam)).isdisjoint(visible(Account.objects.all(), nick))
    # Every demo persona has records to look at. The viewer reads and changes nothing.
    viewer = User.objects.get(username="viewer")
    for model in (Account, Contact, Lead, Opportunity):
        assert visible(model.objects.all(), viewer).exists(), model
        assert not editable(model.objects.all(), viewer).exists(), model
    # Teammates read each other's records (team-readable) but change only their own.
    ritas = Account.objects.filter(owner=rita)
    assert ritas.exists()
    assert set(visible(ritas, sam)) == set(ritas)
    assert not editable(ritas, sam).exists()

    # The analytics and the duplicate scans were computed once, by the load itself.
    assert "analytics computed" in out and "duplicate scan of contacts" in out
    run = WarehouseRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED and run.customers > 0
    assert CustomerScore.objects.exists()
    assert set(DuplicateRun.objects.values_list("object_type", flat=True)) == {
        "account",
        "contact",
        "lead",
    }
    assert DuplicateCandidate.objects.exists()
    client = Client()
    client.force_login(User.objects.get(username="admin"))
    page = client.get("/analytics/")
    assert page.status_code == 200
    assert "have not been computed yet" not in page.content.decode()

    call_command("demo_data", "--if-empty")  # a second run keeps the data, computes nothing
    assert Account.objects.count() == 12
    assert WarehouseRun.objects.count() == 1
