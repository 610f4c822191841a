"""The workspace reads the agent's availability, the queue and owner pickers and the bell's
count in one statement (`selectors.workspace_pickers`, a `PreparedUnion` of the reads the other
pages run one by one): the expected rows, in the pickers' order, for each persona, and the page
shows them."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rapport.cases import selectors
from rapport.cases.models import AgentAvailability, AgentStatus, Queue
from rapport.notifications.models import Notification

pytestmark = pytest.mark.django_db


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


def test_one_statement_reads_the_expected_rows(personas, busy_desk):
    queues = [
        (q.pk, q.name)
        for q in sorted(Queue.objects.filter(is_active=True), key=lambda q: (q.name, q.pk))
    ]
    assert [name for _, name in queues] == ["Alpha", "Billing", "Support", "Zeta"]
    p = personas
    agents = [
        (p.admin.pk, "admin", "", ""),
        (p.manager.pk, "manager", "Mia", "Manager"),
        (p.outsider.pk, "outsider", "", ""),
        (p.owner.pk, "owner", "Olga", "Owner"),
        (p.teammate.pk, "teammate", "", ""),
    ]
    expected = {
        p.admin: (None, 0),
        p.owner: (AgentAvailability.AWAY, 1),
        p.teammate: (AgentAvailability.AVAILABLE, 0),
        p.reader: (None, 0),
    }
    for user, (availability, unread) in expected.items():
        with CaptureQueriesContext(connection) as ctx:
            read = selectors.workspace_pickers(user)
        assert len(ctx.captured_queries) == 1
        assert read == (availability, queues, agents, unread), user.username
    # The pickers are the same reads the case page runs alone.
    assert selectors.QUEUE_ROWS() == queues and selectors.AGENT_ROWS() == agents
    # The bell's part keeps its cap.
    now = timezone.now()
    Notification.objects.bulk_create(
        Notification(recipient=p.teammate, kind="assigned_to_you", title=f"n{i}", created_at=now)
        for i in range(150)
    )
    assert selectors.workspace_pickers(p.teammate).unread_notifications == 100


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
