import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.cases.models import AgentAvailability, AgentStatus, AssignmentMode, Queue, QueueMember


@pytest.fixture
def desk(personas):
    """A customer of `owner` (team A), a support queue with the teammate as an available
    agent, and the outsider (team B) who must see nothing."""
    account = account_create(actor=personas.owner, fields={"name": "Customer Ltd"})
    ann = contact_create(
        actor=personas.owner,
        fields={"first_name": "Ann", "last_name": "Customer", "account": account},
        emails=[{"email": "ann@customer.example", "is_primary": True}],
    )
    queue = Queue.objects.create(name="Support", assignment=AssignmentMode.ROUND_ROBIN)
    QueueMember.objects.create(queue=queue, user=personas.teammate, capacity=2)
    AgentStatus.objects.create(user=personas.teammate, availability=AgentAvailability.AVAILABLE)
    return {"account": account, "ann": ann, "queue": queue}
