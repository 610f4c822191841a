import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.playbooks import selectors, services
from rapport.playbooks.models import StepCheck
from rapport.records.exceptions import RecordNotFound
from rapport.sales.services import opportunity_move_stage
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def opportunity(make_opportunity):
    return make_opportunity()


def test_managers_write_steps_reps_do_not(personas, opportunity):
    with pytest.raises(PermissionDenied):
        services.step_add(actor=personas.owner, stage=opportunity.stage, text="Qualify budget")
    with pytest.raises(ValidationError):
        services.step_add(actor=personas.manager, stage=opportunity.stage, text="  ")
    first = services.step_add(
        actor=personas.manager, stage=opportunity.stage, text="Qualify budget"
    )
    second = services.step_add(
        actor=personas.admin, stage=opportunity.stage, text="Find the champion"
    )
    assert [r.step for r in selectors.playbook_for(opportunity)] == [first, second]


def test_checking_steps_of_the_current_stage(personas, opportunity, stages):
    step = services.step_add(actor=personas.manager, stage=opportunity.stage, text="Qualify budget")
    assert services.step_check(actor=personas.owner, opportunity=opportunity, step=step, done=True)
    assert not services.step_check(
        actor=personas.owner, opportunity=opportunity, step=step, done=True
    )
    (row,) = selectors.playbook_for(opportunity)
    assert row.done and row.checked_by == personas.owner
    assert TimelineEvent.objects.filter(
        opportunity=opportunity, summary="Done: Qualify budget"
    ).exists()
    with pytest.raises(RecordNotFound):  # a private opportunity: others do not see it
        services.step_check(actor=personas.outsider, opportunity=opportunity, step=step, done=False)
    assert services.step_check(actor=personas.owner, opportunity=opportunity, step=step, done=False)
    assert not StepCheck.objects.exists()
    later = next(
        s for s in stages.values() if s.position > opportunity.stage.position and s.kind == "open"
    )
    other = services.step_add(actor=personas.manager, stage=later, text="Send proposal")
    with pytest.raises(ValidationError):
        services.step_check(actor=personas.owner, opportunity=opportunity, step=other, done=True)
    opportunity_move_stage(opportunity=opportunity, stage=later, actor=personas.owner)
    assert [r.step for r in selectors.playbook_for(opportunity)] == [other]


def test_api_and_card(personas, opportunity, api_as, client):
    manager = api_as(personas.manager)
    created = manager.post(
        f"/api/playbooks/stages/{opportunity.stage_id}/steps", {"text": "Call the CFO"}
    )
    assert created.status_code == 201, created.data
    step_id = created.data["id"]
    assert (
        api_as(personas.owner)
        .post(f"/api/playbooks/stages/{opportunity.stage_id}/steps", {"text": "x"})
        .status_code
        == 403
    )
    owner = api_as(personas.owner)
    done = owner.put(
        f"/api/playbooks/opportunities/{opportunity.pk}/steps/{step_id}", {"done": True}
    )
    assert done.status_code == 200 and done.data[0]["done"] is True
    assert done.data[0]["checked_by_id"] == personas.owner.pk
    outsider = api_as(personas.outsider)
    assert outsider.get(f"/api/playbooks/opportunities/{opportunity.pk}").status_code == 404
    assert (
        outsider.put(
            f"/api/playbooks/opportunities/{opportunity.pk}/steps/{step_id}", {"done": False}
        ).status_code
        == 404
    )
    client.force_login(personas.owner)
    card = client.get(f"/playbooks/opportunity/{opportunity.pk}/")
    assert card.status_code == 200 and b"Call the CFO" in card.content
    assert b'aria-checked="true"' in card.content
    client.force_login(personas.outsider)
    assert client.get(f"/playbooks/opportunity/{opportunity.pk}/").status_code == 404
