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


def test_the_case_page_reads_its_pickers_and_the_bell_in_one_statement(personas, busy_desk):
    """The case page's union: the same rows as the reads run alone, resolution codes in use
    (the latest first, deduplicated, with the usual ones) and active macros only."""
    from rapport.cases.models import Case, Macro

    p = personas
    Macro.objects.create(name="Thanks", body="Thank you")
    Macro.objects.create(name="Old", body="x", is_active=False)
    from rapport.cases.services import case_create

    for code in ("refund-x", "fixed", "refund-x"):
        case = case_create(actor=p.owner, fields={"subject": code, "queue": busy_desk["queue"]})
        Case.objects.filter(pk=case.pk).update(resolution_code=code)
    for user, unread in ((p.owner, 1), (p.teammate, 0), (p.admin, 0)):
        with CaptureQueriesContext(connection) as ctx:
            read = selectors.case_page_pickers(user)
        assert len(ctx.captured_queries) == 1
        assert read.queues == selectors.QUEUE_ROWS()
        assert read.agents == selectors.AGENT_ROWS()
        assert [m.name for m in read.macros] == ["Thanks"]
        assert read.macros == selectors.macro_choices()
        assert read.resolution_codes == selectors.resolution_codes()
        assert read.unread_notifications == unread
    assert {"refund-x", "fixed"} <= set(read.resolution_codes)
