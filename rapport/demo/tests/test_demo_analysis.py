"""`demo_data --no-analysis` leaves the analytics and the duplicate scans to the background
jobs, and `--if-empty` leaves a loaded demo as it is (the load with its analysis:
test_demo_data.py)."""

import pytest
from django.core.management import call_command

from rapport.accounts.models import Account
from rapport.analytics.models import WarehouseRun
from rapport.duplicates.models import DuplicateRun

pytestmark = pytest.mark.django_db


def test_no_analysis_skips_it_and_if_empty_keeps_a_small_demo_unchanged():
    call_command("demo_data", "--if-empty", "--accounts", "5", "--no-analysis")
    assert Account.objects.count() == 5
    assert not WarehouseRun.objects.exists() and not DuplicateRun.objects.exists()
    call_command("demo_data", "--if-empty")  # data present: nothing loaded or computed
    assert Account.objects.count() == 5
    assert not WarehouseRun.objects.exists() and not DuplicateRun.objects.exists()
