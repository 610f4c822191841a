"""Background tasks of the engine: dispatch after commit, execute runs, the periodic sweep."""

from django_tasks import task

from rapport.automation import engine, schedules


@task()
def automation_dispatch_task() -> int:
    """Match committed outbox events to rules, then execute the runs it created."""
    created = engine.dispatch_pending()
    if created:
        engine.execute_due_runs()
    return created


@task()
def automation_execute_task() -> int:
    return engine.execute_due_runs()


@task()
def automation_sweep_task() -> dict:
    """Every half minute from the scheduler: events whose dispatch was missed, schedules
    and date rules due, waits that ended, runs whose worker died (lease expired)."""
    dispatched = engine.dispatch_pending()
    fired = schedules.fire_due_rules()
    executed = engine.execute_due_runs()
    return {"dispatched": dispatched, "fired": fired, "executed": executed}


@task()
def automation_purge_task() -> int:
    from rapport.automation.services import outbox_purge

    return outbox_purge()
