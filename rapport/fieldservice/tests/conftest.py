import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from rapport.accounts.services import account_create, contact_create
from rapport.fieldservice.services import work_order_create
from rapport.sales.models import Product

# The smallest valid PNG (1×1, white).
PNG_1PX = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/"
    "AAX+Av4N70a4AAAAAElFTkSuQmCC"
)


@pytest.fixture
def account(personas):
    return account_create(
        actor=personas.owner, fields={"name": "Acme", "street": "1 Main St", "city": "Lyon"}
    )


@pytest.fixture
def contact(personas, account):
    return contact_create(
        actor=personas.owner,
        fields={"first_name": "Jane", "last_name": "Doe", "account": account},
    )


@pytest.fixture
def part(db):
    return Product.objects.create(sku="P-1", name="Valve", unit_price=Decimal("5"))


@pytest.fixture
def slot():
    start = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0)
    return start, start + datetime.timedelta(hours=2)


@pytest.fixture
def work_order(personas, account, slot):
    """Scheduled today 09–11 for the teammate (technician) at the owner's account."""
    return work_order_create(
        actor=personas.owner,
        title="Boiler service",
        account=account,
        scheduled_start=slot[0],
        scheduled_end=slot[1],
        technician=personas.teammate,
        tasks=["Check pressure", "Replace filter"],
    )
