"""The workspace reads the agent's availability, the queue and owner pickers and the bell's
count in one statement (`selectors.workspace_pickers`): the same rows, in the same order, as
the four ORM reads it replaced, and the page shows them."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rapport.cases import selectors
from rapport.cases.models import AgentAvailability, AgentStatus, Queue
from rapport.identity.models import User
from rapport.notifications.models import Notification
from rapport.notifications.selectors import unread_count

pytestmark = pytest.mark.django_db


def _orm(user):
    status = AgentStatus.objects.filter(user=user).first()
    agents = (
        User.objects.filter(is_active=True)
        .exclude(role="read_only")
        .order_by("username")
        .values_list("pk", "username", "first_name", "last_name")
    )
    return selectors.WorkspacePickers(
        status.availability if status else None,
        list(Queue.objects.filter(is_active=True).values_list("pk", "name")),
        list(agents),
        unread_count(user),
    )


@pytest.fixture
def busy_desk(personas, desk):
    """Queues whose names sort differently from their keys, an inactive queue, agents with
    and without a name, notifications read and unread."""
    Queue.objects.create(name="Zeta")
    Queue.objects.create(name="Billing")
    Queue.objects.create(name="Archive", is_active=False)
    Queue.objects.create(name="Alpha")
    AgentStatus.objects.create(user=personas.owner, availability=AgentAvailability.AWAY)
    now = timezone.now()
    Notification.objects.create(
        recipient=personas.owner, kind="assigned_to_you", title="a", created_at=now
    )
    Notification.objects.create(
        recipient=personas.owner, kind="assigned_to_you", title="b", created_at=now, read_at=now
    )
    return desk


def test_one_statement_reads_what_the_four_reads_read(personas, busy_desk):
    for user in (personas.admin, personas.owner, personas.teammate, personas.reader):
        with CaptureQueriesContext(connection) as ctx:
            read = selectors.workspace_pickers(user)
        assert len(ctx.captured_queries) == 1
        assert read == _orm(user), user.username
    owner = selectors.workspace_pickers(personas.owner)
    assert owner.availability == AgentAvailability.AWAY and owner.unread_notifications == 1
    assert [name for _, name in owner.queues] == ["Alpha", "Billing", "Support", "Zeta"]
    assert "reader" not in [a[1] for a in owner.agents]
    assert "deactivated" not in [a[1] for a in owner.agents]
    assert selectors.workspace_pickers(personas.admin).availability is None


def test_the_workspace_shows_them(personas, busy_desk):
    client = Client()
    client.force_login(personas.owner)
    html = client.get("/cases/?view=mine").content.decode()
    assert '<option value="away" selected>' in html
    assert 'aria-label="Notifications: 1 unread"' in html
    assert ">Olga Owner</option>" in html and ">teammate</option>" in html
    assert ">Archive</option>" not in html
    client.force_login(personas.admin)
    html = client.get("/cases/?view=mine").content.decode()
    assert '<option value="offline" selected>' in html
    assert 'aria-label="Notifications"' in html
