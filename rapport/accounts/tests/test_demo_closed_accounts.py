"""The demo's closed accounts (rapport/demo/closed_accounts.py): the less engaged accounts
are closed, through the service, and the churn classifier of analytics learns from them."""

import pytest
from django.utils import timezone

from rapport.accounts.models import Account
from rapport.analytics.models import ModelFit, RunStatus, WarehouseRun
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_closes_disengaged_accounts_and_the_classifier_learns(demo_snapshot):
    # demo_build(accounts=200, seed=7), close_demo_accounts(seed=7) (its count checked by the
    # build: rapport/conftest.py) and a full refresh, built once a run
    demo_snapshot("demo-200-closed-refreshed")
    accounts = Account.objects.filter(closed_at__isnull=False)
    closed = accounts.count()
    assert closed >= 30
    assert all(a.closed_at <= timezone.localdate() and a.close_reason for a in accounts)
    assert TimelineEvent.objects.filter(payload__action="closed").count() == closed
    run = WarehouseRun.objects.latest("id")
    assert run.status == RunStatus.SUCCEEDED, run.error
    fit = ModelFit.objects.get(run=run, model="churn_classifier")
    assert fit.converged, fit.error
    assert fit.report["auc"] > fit.report["baseline_auc"]
