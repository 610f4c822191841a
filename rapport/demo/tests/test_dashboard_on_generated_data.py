"""The home dashboard's queries rewritten for scale (rapport/web/dashboard.py) give what a
plain reading of their definition gives, on generated data with many owners and records."""

import pytest
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.conftest import demo_restored_for_module
from rapport.identity.models import User
from rapport.timeline.models import TimelineEvent
from rapport.web import dashboard

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def generated(django_db_setup, django_db_blocker, tmp_path_factory):
    """demo_data --contacts 150 --activities 900 --orders 40, built once a run, restored once
    for this module; each test reads it in a rolled-back transaction."""
    with demo_restored_for_module("generated-150", tmp_path_factory, django_db_blocker):
        yield


@pytest.mark.parametrize("username", ["admin", "maria", "sam", "viewer"])
def test_recent_events_are_the_newest_events_of_my_records(generated, username):
    user = User.objects.get(username=username)
    mine = {
        name: set(dashboard.my_records(model, user).values_list("pk", flat=True))
        for name, model in dashboard.EVENT_SUBJECTS
    }
    expected = sorted(
        (
            e
            for e in TimelineEvent.objects.all()
            if any(getattr(e, f"{name}_id") in ids for name, ids in mine.items())
        ),
        key=lambda e: (e.occurred_at, e.id),
        reverse=True,
    )[: dashboard.RECENT_EVENTS_LIMIT]
    got = dashboard.recent_events(user=user)
    assert [e.pk for e in got] == [e.pk for e in expected]
    if username == "viewer":  # answers for no record
        assert got == []
    else:
        assert len(got) == dashboard.RECENT_EVENTS_LIMIT


@pytest.mark.parametrize("username", ["maria", "sam"])
def test_due_tasks_are_my_open_tasks_due_by_today(generated, username):
    user = User.objects.get(username=username)
    now = timezone.now()
    end = dashboard._end_of_today(now)
    expected = sorted(
        (
            a
            for a in Activity.objects.filter(owner=user, kind="task", done=False)
            if a.due_at and a.due_at < end
        ),
        key=lambda a: (a.due_at, a.id),
    )[: dashboard.TASKS_DUE_LIMIT]
    tasks = dashboard.dashboard_tasks(user=user, now=now)
    assert [t.pk for t in tasks.overdue + tasks.today] == [a.pk for a in expected]
    assert expected, "the generator gave this user open tasks"
