"""Activity fixtures: customers through the account services; leads and opportunities
straight through the ORM (their services are being built alongside)."""

import datetime

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.activities.services import activity_log

AT = datetime.datetime(2025, 3, 1, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def account(personas):
    """The owner's account (private: owner, manager and admin see it)."""
    return account_create(actor=personas.owner, fields={"name": "Acme"})


@pytest.fixture
def contact(personas, account):
    return contact_create(actor=personas.owner, fields={"last_name": "Doe", "account": account})


@pytest.fixture
def outsider_contact(personas):
    return contact_create(actor=personas.outsider, fields={"last_name": "Far"})


@pytest.fixture
def lead(personas):
    from rapport.leads.models import Lead

    owner = personas.owner
    return Lead.objects.create(owner=owner, team=owner.team, last_name="Prospect")


@pytest.fixture
def opportunity(personas, account):
    from rapport.sales.models import Opportunity, Pipeline, Stage

    pipeline = Pipeline.objects.create(name="Test pipeline")
    stage = Stage.objects.create(pipeline=pipeline, name="Qualify", position=1)
    owner = personas.owner
    return Opportunity.objects.create(
        owner=owner, team=owner.team, name="Deal", account=account, pipeline=pipeline, stage=stage
    )


@pytest.fixture
def log(personas):
    """log(kind, actor=owner, links..., **fields) → the activity, through the service."""

    def make(kind="call", actor=None, owner=None, external_id=None, **kwargs):
        links = {
            k: kwargs.pop(k) for k in list(kwargs) if k.endswith("_id") and "attendee" not in k
        }
        attendees = {k: kwargs.pop(k) for k in list(kwargs) if k.startswith("attendee")}
        if kind == "note":
            kwargs.setdefault("body", "A note")
        if kind == "interaction":
            kwargs.setdefault("channel", "chat")
        if kind == "meeting":
            kwargs.setdefault("starts_at", AT)
        activity, _ = activity_log(
            actor=actor or personas.owner,
            kind=kind,
            fields=kwargs,
            links=links,
            owner=owner,
            external_id=external_id,
            **attendees,
        )
        return activity

    return make
