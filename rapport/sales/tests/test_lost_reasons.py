"""Lost reasons as a picklist: free text until an admin makes the list, then only its
reasons (the list's spelling) on every path; rename follows the deals, deactivation stops
offering; the data migration turns old free text into the list; the settings page."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.test import Client

from rapport.records.exceptions import PermissionDenied
from rapport.sales.models import LostReason, Opportunity
from rapport.sales.services.lost_reasons import (
    lost_reason_create,
    lost_reason_move,
    lost_reason_update,
)
from rapport.sales.services.opportunities import opportunity_move_stage

pytestmark = pytest.mark.django_db


def _lose(opp, stages, personas, reason):
    opportunity_move_stage(
        opportunity=opp, stage=stages["Closed Lost"], actor=personas.owner, lost_reason=reason
    )
    opp.refresh_from_db()
    return opp.lost_reason


def test_once_the_list_exists_only_its_reasons_are_taken(personas, stages, make_opportunity):
    assert _lose(make_opportunity(), stages, personas, "anything at all") == "anything at all"
    lost_reason_create(actor=personas.admin, name="Price")
    lost_reason_create(actor=personas.admin, name="Competitor")
    with pytest.raises(ValidationError) as exc:
        _lose(make_opportunity(), stages, personas, "Too expensive")
    assert exc.value.error_dict["lost_reason"][0].code == "invalid_choice"
    assert "Price, Competitor" in exc.value.messages[0]
    assert _lose(make_opportunity(), stages, personas, "  price ") == "Price"
    with pytest.raises(ValidationError):
        make_opportunity(stage=stages["Closed Lost"], lost_reason="Budget")


def test_rename_follows_the_deals_and_deactivation_stops_offering(
    personas, stages, make_opportunity
):
    price = lost_reason_create(actor=personas.admin, name="Price")
    lost_reason_create(actor=personas.admin, name="Timing")
    opp = make_opportunity()
    _lose(opp, stages, personas, "Price")
    lost_reason_update(actor=personas.admin, reason=price, name="Price too high")
    opp.refresh_from_db()
    assert opp.lost_reason == "Price too high"
    lost_reason_update(actor=personas.admin, reason=price, is_active=False)
    with pytest.raises(ValidationError):
        _lose(make_opportunity(), stages, personas, "Price too high")
    opp.refresh_from_db()
    assert opp.lost_reason == "Price too high"  # old deals keep it
    with pytest.raises(ValidationError) as exc:
        lost_reason_create(actor=personas.admin, name="timing")
    assert exc.value.error_dict["name"][0].code == "unique"
    with pytest.raises(PermissionDenied):
        lost_reason_create(actor=personas.manager, name="Other")


def test_order_moves_up_and_down(personas):
    a = lost_reason_create(actor=personas.admin, name="A")
    lost_reason_create(actor=personas.admin, name="B")
    c = lost_reason_create(actor=personas.admin, name="C")
    lost_reason_move(actor=personas.admin, reason=c, up=True)
    lost_reason_move(actor=personas.admin, reason=a, up=False)
    # A B C → C up: A C B → A down: C A B
    assert [r.name for r in LostReason.objects.all()] == ["C", "A", "B"]


def test_the_api_refuses_a_reason_off_the_list_naming_the_field(
    personas, api_as, make_opportunity, stages
):
    lost_reason_create(actor=personas.admin, name="Price")
    api = api_as(personas.owner)
    assert [r["name"] for r in api.get("/api/opportunities/lost-reasons").data] == ["Price"]
    opp = make_opportunity()
    url = f"/api/opportunities/{opp.pk}/move-stage"
    r = api.post(url, {"stage_id": stages["Closed Lost"].pk, "lost_reason": "Too expensive"})
    assert (r.status_code, r.data["field"], r.data["code"]) == (
        422,
        "lost_reason",
        "invalid_choice",
    )
    r = api.post(url, {"stage_id": stages["Closed Lost"].pk, "lost_reason": "PRICE"})
    assert r.status_code == 200 and r.data["lost_reason"] == "Price"


def test_the_data_migration_makes_the_list_from_free_text(personas, stages, make_opportunity):
    for text in ("Price", "price ", "Competitor", "Price"):
        _lose(make_opportunity(), stages, personas, text)
    migration = importlib.import_module("rapport.sales.migrations.0008_lost_reasons_from_free_text")
    migration.forwards(apps, None)
    assert [r.name for r in LostReason.objects.all()] == ["Price", "Competitor"]
    assert sorted(Opportunity.objects.values_list("lost_reason", flat=True)) == [
        "Competitor",
        "Price",
        "Price",
        "Price",
    ]


def test_the_settings_page_adds_renames_and_deactivates(personas):
    client = Client()
    client.force_login(personas.admin)
    assert (
        client.post("/settings/lost-reasons/", {"action": "add", "name": "Price"}).status_code
        == 302
    )
    reason = LostReason.objects.get()
    client.post(
        "/settings/lost-reasons/", {"action": "rename", "reason": reason.pk, "name": "Cost"}
    )
    client.post("/settings/lost-reasons/", {"action": "deactivate", "reason": reason.pk})
    reason.refresh_from_db()
    assert (reason.name, reason.is_active) == ("Cost", False)
    page = client.get("/settings/lost-reasons/")
    assert page.status_code == 200 and b"Deactivated" in page.content
    manager = Client()
    manager.force_login(personas.manager)
    assert (
        manager.post("/settings/lost-reasons/", {"action": "add", "name": "X"}).status_code == 403
    )
    assert LostReason.objects.count() == 1
