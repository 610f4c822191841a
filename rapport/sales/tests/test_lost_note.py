"""A lost opportunity may carry a free-text note beside its picklist reason: set from the
lost prompt, the API's stage move and update, shown on the record and on the stage-change
event; cleared when the opportunity is reopened; refused on an opportunity that is not lost;
the win/loss analytics still group by the reason alone."""

import pytest

from rapport.sales.models import Opportunity
from rapport.sales.services import opportunity_move_stage, opportunity_update
from rapport.timeline.models import EventKind, TimelineEvent
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db


def _event(opp):
    return (
        TimelineEvent.objects.filter(opportunity=opp, kind=EventKind.STAGE_CHANGED)
        .order_by("-id")
        .first()
    )


def test_lost_prompt_takes_a_note_shown_on_the_record_and_its_timeline(
    personas, make_opportunity, stages
):
    opp = make_opportunity()
    lost = stages["Closed Lost"]
    client = ui_client(personas.owner)
    page = client.get(f"/opportunities/{opp.pk}/move?stage_id={lost.pk}")
    assert 'name="lost_note"' in page.content.decode()
    r = client.post(
        f"/opportunities/{opp.pk}/move",
        {
            "stage_id": lost.pk,
            "version": opp.version,
            "prompted": "1",
            "lost_reason": "Price",
            "lost_note": "  Their CFO capped the budget at 40k.  ",
            "next": f"/opportunities/{opp.pk}/",
        },
    )
    assert r.status_code == 302
    opp = Opportunity.objects.get(pk=opp.pk)
    assert (opp.lost_reason, opp.lost_note) == ("Price", "Their CFO capped the budget at 40k.")
    event = _event(opp)
    assert event.payload["lost_reason"] == "Price"
    assert event.payload["lost_note"] == "Their CFO capped the budget at 40k."
    text = text_of(client.get(f"/opportunities/{opp.pk}/"))
    assert text.count("Their CFO capped the budget at 40k.") == 2  # the record and the event
    assert "Lost because: Price" in text


def test_api_move_and_update_with_a_note(personas, api_as, make_opportunity, stages):
    opp = make_opportunity()
    api = api_as(personas.owner)
    url = f"/api/opportunities/{opp.pk}"
    r = api.patch(url, {"lost_note": "early"})
    assert (r.status_code, r.data["field"], r.data["code"]) == (422, "lost_note", "not_lost")
    r = api.post(
        f"{url}/move-stage",
        {"stage_id": stages["Closed Lost"].pk, "lost_reason": "Price", "lost_note": "Too slow"},
    )
    assert r.status_code == 200
    assert (r.data["lost_reason"], r.data["lost_note"]) == ("Price", "Too slow")
    r = api.post(
        f"{url}/move-stage", {"stage_id": stages["Closed Lost"].pk, "lost_note": "x" * 2001}
    )
    assert r.status_code == 422 and "lost_note" in str(r.data)
    r = api.patch(url, {"lost_note": "Too slow to reply, twice"})
    assert r.status_code == 200 and r.data["lost_note"] == "Too slow to reply, twice"
    assert api.get(url).data["lost_note"] == "Too slow to reply, twice"


def test_reopening_clears_the_note_and_same_stage_corrects_it(personas, make_opportunity, stages):
    owner = personas.owner
    opp = make_opportunity()
    lost = stages["Closed Lost"]
    opportunity_move_stage(
        opportunity=opp, stage=lost, actor=owner, lost_reason="Price", lost_note="a"
    )
    opp = Opportunity.objects.get(pk=opp.pk)
    # A second lost move without a note keeps the reason's correction path: the note stays
    # unless given.
    opportunity_move_stage(
        opportunity=opp, stage=lost, actor=owner, lost_reason="Price", lost_note="b"
    )
    assert Opportunity.objects.get(pk=opp.pk).lost_note == "b"
    opp = Opportunity.objects.get(pk=opp.pk)
    opportunity_update(opportunity=opp, actor=owner, fields={"stage": stages["Proposal"]})
    opp = Opportunity.objects.get(pk=opp.pk)
    assert (opp.lost_reason, opp.lost_note) == ("", "")
    assert "lost_note" not in _event(opp).payload


def test_win_loss_analytics_still_group_by_reason(personas, make_opportunity, stages):
    from rapport.analytics.sales.metrics import default_filters, sales_metrics

    owner = personas.owner
    for note in ("one story", "another story"):
        opp = make_opportunity()
        opportunity_move_stage(
            opportunity=opp,
            stage=stages["Closed Lost"],
            actor=owner,
            lost_reason="Price",
            lost_note=note,
        )
    metrics = sales_metrics(
        user=personas.admin, filters=default_filters(stages["Closed Lost"].pipeline)
    )
    assert metrics["win_loss"]["lost_reasons"] == [{"reason": "Price", "deals": 2}]
