"""Duplicates fixtures: records made through the services by their owners."""

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.leads.services import lead_create


@pytest.fixture
def make_account(personas):
    def make(owner=None, tags=None, custom=None, **fields):
        return account_create(
            actor=owner or personas.owner, fields=fields, tags=tags, custom=custom
        )

    return make


@pytest.fixture
def make_contact(personas):
    def make(owner=None, emails=None, phones=None, tags=None, custom=None, **fields):
        return contact_create(
            actor=owner or personas.owner,
            fields=fields,
            emails=emails,
            phones=phones,
            tags=tags,
            custom=custom,
        )

    return make


@pytest.fixture
def make_lead(personas):
    def make(owner=None, tags=None, **fields):
        return lead_create(actor=owner or personas.owner, fields=fields, tags=tags)

    return make
