"""Loading the demo computes what the background jobs would: the analytics pages and the
duplicates queue have something to show on the first visit, with no worker involved."""

import pytest
from django.core.management import call_command
from django.test import Client

from rapport.analytics.models import CustomerScore, RunStatus, WarehouseRun
from rapport.duplicates.models import DuplicateCandidate, DuplicateRun
from rapport.identity.models import User

pytestmark = pytest.mark.django_db


def test_demo_data_computes_analytics_and_duplicates_once(capsys):
    call_command("demo_data", "--if-empty", "--accounts", "30")
    out = capsys.readouterr().out
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

    call_command("demo_data", "--if-empty")  # data present: nothing computed again
    assert WarehouseRun.objects.count() == 1


def test_no_analysis_skips_it():
    call_command("demo_data", "--if-empty", "--accounts", "5", "--no-analysis")
    assert not WarehouseRun.objects.exists() and not DuplicateRun.objects.exists()
