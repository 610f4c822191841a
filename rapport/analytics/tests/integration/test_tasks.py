"""The background tasks run the refresh service (immediate backend in tests)."""

import pytest

from rapport.analytics.models import CustomerScore, RunStatus, WarehouseRun
from rapport.analytics.tasks import analytics_refresh_scheduled_task, analytics_refresh_task

pytestmark = pytest.mark.django_db


def test_scheduled_task_refreshes(known_base, today):
    result = analytics_refresh_scheduled_task.enqueue()
    assert result.return_value == RunStatus.SUCCEEDED
    assert CustomerScore.objects.count() == 3


def test_scheduled_task_skips_while_a_refresh_is_queued(known_base, today):
    WarehouseRun.objects.create()
    assert analytics_refresh_scheduled_task.enqueue().return_value == "skipped"
    assert not CustomerScore.objects.exists()


def test_refresh_task_runs_a_queued_run_once(known_base, today):
    run = WarehouseRun.objects.create(kind="full")
    assert analytics_refresh_task.enqueue(run.pk).return_value == RunStatus.SUCCEEDED
    run.refresh_from_db()
    assert (run.status, run.customers, run.stage) == (RunStatus.SUCCEEDED, 3, "done")
    assert set(run.summary["seconds"]) >= {"reading orders", "fitting models and scoring"}
    assert analytics_refresh_task.enqueue(999_999).return_value == "missing"


def test_a_user_who_sees_no_customer_gets_empty_aggregates(known_base, today, personas, api_as):
    analytics_refresh_scheduled_task.enqueue()
    api = api_as(personas.reader)
    assert api.get("/api/analytics/segments").data["customers"] == 0
    kpis = api.get("/api/analytics/kpis").data
    assert (kpis["customers"], kpis["revenue"], kpis["churn_rate"]) == (0, 0.0, None)
    assert api.get("/api/analytics/cube", by="month").data["rows"] == []
    assert api.get("/api/analytics/cohorts").data["cohorts"] == []
    assert api.get("/api/analytics/clv").data["histogram"] == []
    assert api.get("/api/analytics/at-risk").data["items"] == []
