"""The scheduler enqueues each periodic job once per due time, through the configured task
backend (here the database backend, as in production without Redis)."""

import datetime

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from rapport.scheduling.models import ScheduleEntry
from rapport.scheduling.schedule import jobs
from rapport.scheduling.services import schedule_sync, schedule_tick

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2030, 3, 10, 12, 0, tzinfo=datetime.UTC)
SCHEDULE = [
    {"name": "purge", "task": "rapport.api.tasks.idempotency_purge_task", "every": 3600},
    {
        "name": "scan-contacts",
        "task": "rapport.duplicates.tasks.find_duplicates_task",
        "kwargs": {"object_type": "contact"},
        "at": "03:00",
    },
]


@pytest.fixture
def database_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.RAPPORT_SCHEDULE = SCHEDULE
    settings.TIME_ZONE = "Europe/Berlin"


def test_jobs_are_due_at_their_next_time(database_tasks):
    by_name = {job.name: job for job in jobs()}
    assert by_name["purge"].next_after(T0) == T0 + datetime.timedelta(hours=1)
    # 03:00 in Berlin (UTC+1 in March before the switch) is 02:00 UTC, the next morning.
    assert by_name["scan-contacts"].next_after(T0) == datetime.datetime(
        2030, 3, 11, 2, 0, tzinfo=datetime.UTC
    )
    early = datetime.datetime(2030, 3, 10, 1, 0, tzinfo=datetime.UTC)
    assert by_name["scan-contacts"].next_after(early).day == 10


def test_a_due_job_is_enqueued_once_and_then_waits_for_its_next_time(database_tasks):
    schedule_sync(T0)
    assert schedule_tick(T0) == []  # nothing is due at once
    later = T0 + datetime.timedelta(hours=1, minutes=1)
    assert schedule_tick(later) == ["purge"]
    assert schedule_tick(later) == []  # a second scheduler at the same moment: nothing
    row = DBTaskResult.objects.get()
    assert row.task_path == "rapport.api.tasks.idempotency_purge_task"
    entry = ScheduleEntry.objects.get(name="purge")
    assert entry.last_task_id == str(row.id)
    assert entry.next_due_at == later + datetime.timedelta(hours=1)
    night = datetime.datetime(2030, 3, 11, 2, 0, 30, tzinfo=datetime.UTC)
    assert sorted(schedule_tick(night)) == ["purge", "scan-contacts"]
    scan = DBTaskResult.objects.get(task_path="rapport.duplicates.tasks.find_duplicates_task")
    assert scan.args_kwargs["kwargs"] == {"object_type": "contact"}


def test_the_command_checks_once(database_tasks):
    from django.utils import timezone

    overdue = timezone.now() - datetime.timedelta(minutes=1)
    ScheduleEntry.objects.create(name="purge", next_due_at=overdue)
    call_command("scheduler", "--once")
    assert DBTaskResult.objects.filter(task_path__endswith="idempotency_purge_task").count() == 1


def test_the_default_schedule_names_real_tasks():
    from django.utils.module_loading import import_string

    for job in jobs():
        task = import_string(job.task)
        assert hasattr(task, "enqueue"), job.task
