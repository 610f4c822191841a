"""Territory managers read their territories' records through the one visibility layer
(the authorisation matrix's style): GET 200 and listed, writes 403, everyone else unchanged
(404 and absent); a parent territory's manager sees the children's; moving a record out
hides it again."""

import pytest

from rapport.accounts.services import account_create, account_update, contact_create
from rapport.leads.services import lead_create
from rapport.sales.services import opportunity_create
from rapport.territories import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(personas):
    admin = personas.admin
    emea = services.territory_save(actor=admin, fields={"name": "EMEA"})
    dach = services.territory_save(actor=admin, fields={"name": "DACH", "parent": emea})
    services.territory_set_rules(
        actor=admin, territory=dach, rules=[{"field": "country", "values": ["DE", "AT"]}]
    )
    # The outsider (team B) manages DACH; the teammate manages EMEA above it.
    services.territory_set_members(
        actor=admin, territory=dach, reps=[], managers=[personas.outsider]
    )
    services.territory_set_members(
        actor=admin, territory=emea, reps=[], managers=[personas.teammate]
    )
    owner = personas.owner
    account = account_create(actor=owner, fields={"name": "Bosch-ish", "country": "DE"})
    contact = contact_create(actor=owner, fields={"last_name": "Kontakt", "account": account})
    opp = opportunity_create(actor=owner, fields={"name": "Deal", "account": account})
    lead = lead_create(actor=owner, fields={"last_name": "Lead", "country": "AT"})
    elsewhere = account_create(actor=owner, fields={"name": "Elsewhere", "country": "US"})
    return {
        "account": ("/api/accounts", account.pk, {"industry": "x"}),
        "contact": ("/api/contacts", contact.pk, {"title": "x"}),
        "opportunity": ("/api/opportunities", opp.pk, {"description": "x"}),
        "lead": ("/api/leads", lead.pk, {"title": "x"}),
        "_elsewhere": elsewhere,
        "_account": account,
    }


OBJECTS = ["account", "contact", "opportunity", "lead"]


@pytest.mark.parametrize("object_type", OBJECTS)
@pytest.mark.parametrize("who", ["outsider", "teammate"])
def test_territory_managers_read_but_do_not_write(personas, world, api_as, object_type, who):
    path, pk, patch = world[object_type]
    api = api_as(getattr(personas, who))
    r = api.get(f"{path}/{pk}")
    assert r.status_code == 200, r.data
    listed = api.get(path, limit=100)
    assert pk in [item["id"] for item in listed.data["items"]]
    r = api.patch(f"{path}/{pk}", patch, headers={"If-Match": f'"{r.data["version"]}"'})
    assert r.status_code == 403


@pytest.mark.parametrize("object_type", OBJECTS)
def test_others_still_see_nothing(personas, world, api_as, object_type):
    path, pk, _ = world[object_type]
    for who in ("reader",):
        api = api_as(getattr(personas, who))
        assert api.get(f"{path}/{pk}").status_code == 404
        assert pk not in [item["id"] for item in api.get(path, limit=100).data["items"]]


def test_records_outside_the_territory_stay_hidden(personas, world, api_as):
    elsewhere = world["_elsewhere"]
    assert api_as(personas.outsider).get(f"/api/accounts/{elsewhere.pk}").status_code == 404


def test_moving_out_of_the_territory_hides_the_record(personas, world, api_as):
    account = world["_account"]
    account_update(account=account, actor=personas.owner, fields={"country": "FR"})
    api = api_as(personas.outsider)
    assert api.get(f"/api/accounts/{account.pk}").status_code == 404
    _, opp_pk, _ = world["opportunity"]
    assert api.get(f"/api/opportunities/{opp_pk}").status_code == 404
