"""Accounts and leads are placed in territories on every write path (service/UI, API,
import), moves are logged, and a realignment previews then moves exactly what the new rules
say."""

from decimal import Decimal

import pytest

from rapport.accounts.models import Account
from rapport.accounts.services import account_create, account_update
from rapport.imports.tests.conftest import csv_bytes
from rapport.leads.models import Lead
from rapport.leads.services import lead_create, lead_update
from rapport.territories import services
from rapport.territories.models import Realignment, TerritoryMembership
from rapport.territories.placement import territory_of
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def map_(personas):
    admin = personas.admin
    europe = services.territory_save(actor=admin, fields={"name": "Europe", "priority": 50})
    france = services.territory_save(
        actor=admin, fields={"name": "France", "parent": europe, "priority": 10}
    )
    paris = services.territory_save(
        actor=admin, fields={"name": "Paris big", "parent": france, "priority": 1}
    )
    named = services.territory_save(actor=admin, fields={"name": "Key accounts", "priority": 0})
    services.territory_set_rules(
        actor=admin, territory=europe, rules=[{"field": "country", "values": ["fr", "de", "es"]}]
    )
    services.territory_set_rules(
        actor=admin, territory=france, rules=[{"field": "country", "values": ["FR"]}]
    )
    services.territory_set_rules(
        actor=admin,
        territory=paris,
        rules=[
            {"field": "country", "values": ["FR"]},
            {"field": "postal_code", "low": "75000", "high": "75999"},
            {"field": "annual_revenue", "low": "1000000"},
        ],
    )
    return {"europe": europe, "france": france, "paris": paris, "named": named}


def test_rules_priority_ranges_and_bands(personas, map_):
    owner = personas.owner
    big = account_create(
        actor=owner,
        fields={
            "name": "Big",
            "country": "FR",
            "postal_code": "75008",
            "annual_revenue": Decimal("5000000"),
        },
    )
    small = account_create(
        actor=owner,
        fields={
            "name": "Small",
            "country": "FR",
            "postal_code": "75008",
            "annual_revenue": Decimal("10"),
        },
    )
    lyon = account_create(
        actor=owner, fields={"name": "Lyon", "country": "FR", "postal_code": "69001"}
    )
    berlin = account_create(actor=owner, fields={"name": "Berlin", "country": "DE"})
    us = account_create(actor=owner, fields={"name": "US", "country": "US"})
    assert territory_of("account", big.pk) == map_["paris"].pk
    assert territory_of("account", small.pk) == map_["france"].pk
    assert territory_of("account", lyon.pk) == map_["france"].pk
    assert territory_of("account", berlin.pk) == map_["europe"].pk
    assert territory_of("account", us.pk) is None
    # A lead has no revenue: never in the revenue-banded territory.
    lead = lead_create(
        actor=owner, fields={"last_name": "L", "country": "FR", "postal_code": "75001"}
    )
    assert territory_of("lead", lead.pk) == map_["france"].pk


def test_named_accounts_take_the_account_and_leads_of_that_company(personas, map_):
    owner = personas.owner
    acme = account_create(actor=owner, fields={"name": "Acme", "country": "FR"})
    services.territory_set_rules(
        actor=personas.admin,
        territory=map_["named"],
        rules=[{"field": "named_account", "values": [str(acme.pk)]}],
    )
    account_update(account=acme, actor=owner, fields={"name": "Acme"})
    assert territory_of("account", acme.pk) == map_["named"].pk
    lead = lead_create(actor=owner, fields={"last_name": "X", "company": "ACME", "country": "US"})
    assert territory_of("lead", lead.pk) == map_["named"].pk


def test_an_edit_moves_the_record_and_logs_it(personas, map_):
    owner = personas.owner
    account = account_create(actor=owner, fields={"name": "Mover", "country": "DE"})
    assert territory_of("account", account.pk) == map_["europe"].pk
    assert not TimelineEvent.objects.filter(account=account, kind="territory_changed").exists()
    account_update(account=account, actor=owner, fields={"country": "FR"})
    assert territory_of("account", account.pk) == map_["france"].pk
    event = TimelineEvent.objects.get(account=account, kind="territory_changed")
    assert event.payload["territory"] == {"old": map_["europe"].pk, "new": map_["france"].pk}
    lead = lead_create(actor=owner, fields={"last_name": "Z", "country": "ES"})
    lead_update(lead=lead, actor=owner, fields={"country": "US"})
    assert territory_of("lead", lead.pk) is None
    assert TimelineEvent.objects.filter(lead=lead, kind="territory_changed").count() == 1


def test_the_api_places_accounts_and_leads(personas, map_, api_as):
    api = api_as(personas.owner)
    r = api.post("/api/accounts", {"name": "Via API", "country": "FR"})
    assert r.status_code == 201, r.data
    assert territory_of("account", r.data["id"]) == map_["france"].pk
    r = api.post("/api/leads", {"last_name": "Api", "country": "de"})
    assert r.status_code == 201, r.data
    assert territory_of("lead", r.data["id"]) == map_["europe"].pk
    r = api.patch(f"/api/leads/{r.data['id']}", {"country": "FR"})
    assert r.status_code == 200, r.data
    assert territory_of("lead", r.data["id"]) == map_["france"].pk


def test_imports_place_created_and_updated_records(personas, map_, upload, run):
    owner = personas.owner
    existing = account_create(actor=owner, fields={"name": "Beta", "country": "US"})
    data = csv_bytes([["Company", "Country"], ["Beta", "FR"], ["Gamma", "DE"], ["Delta", "US"]])
    job = run(upload(owner, data, object_type="accounts"))
    assert (job.updated, job.created) == (1, 2)
    assert territory_of("account", existing.pk) == map_["france"].pk
    assert territory_of("account", Account.objects.get(name="Gamma").pk) == map_["europe"].pk
    assert territory_of("account", Account.objects.get(name="Delta").pk) is None
    data = csv_bytes([["Last name", "Email", "Country"], ["Imp", "imp@example.com", "ES"]])
    job = run(upload(owner, data, object_type="leads"))
    assert job.created == 1
    assert territory_of("lead", Lead.objects.get(last_name="Imp").pk) == map_["europe"].pk


def test_realignment_preview_then_run(personas, map_, django_capture_on_commit_callbacks):
    owner, admin = personas.owner, personas.admin
    ids = [
        account_create(actor=owner, fields={"name": f"A{i}", "country": c}).pk
        for i, c in enumerate(["FR", "FR", "DE", "US", "ES"])
    ]
    # New rule: Europe now only DE; Spain goes nowhere; US joins a new territory.
    services.territory_set_rules(
        actor=admin, territory=map_["europe"], rules=[{"field": "country", "values": ["DE"]}]
    )
    americas = services.territory_save(actor=admin, fields={"name": "Americas"})
    services.territory_set_rules(
        actor=admin, territory=americas, rules=[{"field": "country", "values": ["US"]}]
    )
    before = dict(TerritoryMembership.objects.values_list("object_id", "territory_id"))
    preview = services.realignment_preview(actor=admin)
    assert preview["moves"] == {"account": 2, "lead": 0}
    flows = {(f["from"], f["to"]): f["count"] for f in preview["flows"]}
    assert flows == {("—", "Americas"): 1, ("Europe", "—"): 1}
    assert {s["name"] for s in preview["sample"]} == {"A3", "A4"}
    # The preview wrote nothing.
    assert dict(TerritoryMembership.objects.values_list("object_id", "territory_id")) == before
    with django_capture_on_commit_callbacks(execute=True):
        run = services.realignment_start(actor=admin)
    run = Realignment.objects.get(pk=run.pk)
    assert (run.status, run.moved, run.scanned) == ("done", 2, 5)
    assert territory_of("account", ids[3]) == americas.pk
    assert territory_of("account", ids[4]) is None
    assert territory_of("account", ids[0]) == map_["france"].pk
    assert (
        TimelineEvent.objects.filter(
            kind="territory_changed", payload__reason="realignment"
        ).count()
        == 2
    )


def test_only_admins_change_territories(personas):
    from rapport.records.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.territory_save(actor=personas.manager, fields={"name": "Mine"})
