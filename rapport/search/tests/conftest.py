"""Search fixtures: records made through the services by their owners."""

from decimal import Decimal

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.leads.services import lead_create
from rapport.sales.services import opportunity_create


@pytest.fixture
def make_account(personas):
    def make(owner=None, **fields):
        return account_create(actor=owner or personas.owner, fields=fields)

    return make


@pytest.fixture
def make_contact(personas):
    def make(owner=None, emails=None, phones=None, **fields):
        return contact_create(
            actor=owner or personas.owner, fields=fields, emails=emails, phones=phones
        )

    return make


@pytest.fixture
def make_lead(personas):
    def make(owner=None, **fields):
        return lead_create(actor=owner or personas.owner, fields=fields)

    return make


@pytest.fixture
def make_opportunity(personas):
    def make(owner=None, **fields):
        data = {"amount": Decimal("1000"), **fields}
        return opportunity_create(actor=owner or personas.owner, fields=data)

    return make
