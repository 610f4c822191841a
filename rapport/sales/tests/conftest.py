"""Sales fixtures: the default pipeline from the data migration, records made through
services by their owners."""

from decimal import Decimal

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.sales.models import Pipeline
from rapport.sales.services import opportunity_create, product_create


@pytest.fixture
def pipeline(db) -> Pipeline:
    """The "Sales" pipeline the data migration creates (the default)."""
    return Pipeline.objects.get(name="Sales")


@pytest.fixture
def stages(pipeline) -> dict:
    """The default pipeline's stages by name."""
    return {s.name: s for s in pipeline.stages.all()}


@pytest.fixture
def account(personas):
    return account_create(actor=personas.owner, fields={"name": "Acme"})


@pytest.fixture
def contact(personas, account):
    return contact_create(
        actor=personas.owner, fields={"last_name": "Doe", "first_name": "Jane", "account": account}
    )


@pytest.fixture
def make_opportunity(personas, pipeline):
    """make_opportunity(owner=..., **fields) → an opportunity created by its owner."""

    def make(owner=None, tags=None, custom=None, **fields):
        owner = owner or personas.owner
        data = {"name": "Big deal", "amount": Decimal("1000"), **fields}
        return opportunity_create(actor=owner, fields=data, tags=tags, custom=custom)

    return make


@pytest.fixture
def make_product(personas):
    counter = iter(range(1, 10_000))

    def make(**fields):
        n = next(counter)
        data = {"sku": f"SKU-{n}", "name": f"Product {n}", "unit_price": Decimal("100"), **fields}
        return product_create(actor=personas.manager, fields=data)

    return make
