"""Background tasks of analytics: they take ids and call the services."""

from django_tasks import task

from rapport.analytics.models import WarehouseRun
from rapport.analytics.services import active_run, analytics_refresh_now, analytics_refresh_run


@task()
def analytics_refresh_task(run_id: int) -> str:
    """Execute a queued refresh run (enqueued by POST /api/analytics/refresh)."""
    run = WarehouseRun.objects.filter(pk=run_id).first()
    if run is None:
        return "missing"
    return analytics_refresh_run(run=run).status


@task()
def analytics_refresh_scheduled_task(full: bool = False) -> str:
    """The periodic refresh (run nightly by the scheduler): incremental unless asked; skipped
    while another refresh is queued or running."""
    if active_run() is not None:
        return "skipped"
    return analytics_refresh_now(full=full).status
