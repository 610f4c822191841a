"""Cases as automation subjects: the service desk's timeline events (case opened, status
changed) are record.created / record.updated for object "case", SLA warnings and breaches
come in through `emit(..., object_type="case")`, and conditions read the case's fields
(status, priority, channel, tier, category, queue)."""

import pytest
from django.db import transaction

from rapport.automation import outbox
from rapport.automation.actions import _REGISTRY, ActionSpec, register_action
from rapport.automation.models import Run, TriggerEvent
from rapport.cases.models import Case, CaseCategory, Queue
from rapport.timeline.services import timeline_record

pytestmark = pytest.mark.django_db

seen: list[tuple[str, int, str]] = []


@pytest.fixture
def note_case():
    """`note_case` records the subject the step saw (type, id, status)."""
    seen.clear()

    def handler(ctx, params):
        seen.append((type(ctx.subject).__name__, ctx.subject.pk, ctx.subject.status))
        return {"case": ctx.subject.number}

    register_action(ActionSpec("note_case", "Note the case", handler), replace=True)
    yield
    _REGISTRY.pop("note_case", None)


def _case(**fields) -> Case:
    billing = CaseCategory.objects.get_or_create(name="Billing")[0]
    vip = Queue.objects.get_or_create(name="VIP desk")[0]
    data = {
        "number": 1001,
        "subject": "Invoice twice",
        "priority": "high",
        "channel": "phone",
        "tier": "gold",
        "category": billing,
        "queue": vip,
    }
    return Case.objects.create(**{**data, **fields})


CASE_CONDITIONS = {
    "op": "and",
    "items": [
        {"field": "priority", "operator": "in", "value": "high,urgent"},
        {"field": "channel", "operator": "equals", "value": "phone"},
        {"field": "tier", "operator": "equals", "value": "gold"},
        {"field": "category.name", "operator": "equals", "value": "Billing"},
        {"field": "queue.name", "operator": "equals", "value": "VIP desk"},
    ],
}


def test_case_opened_is_record_created_for_cases_with_conditions_on_its_fields(
    personas, make_rule, worker, note_case
):
    rule = make_rule(
        object_type="case", conditions=CASE_CONDITIONS, actions=[{"type": "note_case"}]
    )
    matching = _case()
    other = _case(number=1002, priority="low")
    for case in (matching, other):
        timeline_record(kind="case_opened", actor=personas.owner, case_id=case.pk)
    runs = worker()
    assert [(r.rule_id, r.object_type, r.object_id, r.state) for r in runs] == [
        (rule.pk, "case", matching.pk, "done")
    ]
    assert seen == [("Case", matching.pk, "new")]


def test_case_status_change_is_record_updated_with_the_change(
    personas, make_rule, worker, note_case
):
    make_rule(
        trigger_type="record.updated",
        object_type="case",
        conditions={
            "op": "and",
            "items": [{"field": "status", "operator": "changed_to", "value": "resolved"}],
        },
        actions=[{"type": "note_case"}],
    )
    case = _case()
    for old, new in (("new", "open"), ("open", "resolved")):
        Case.objects.filter(pk=case.pk).update(status=new)
        timeline_record(kind="case_status", case_id=case.pk, payload={"from": old, "to": new})
    (run,) = worker()
    assert run.state == "done"
    assert run.input["event"]["payload"]["changes"] == {
        "status": {"old": "open", "new": "resolved"}
    }
    assert seen == [("Case", case.pk, "resolved")]


@pytest.mark.parametrize("trigger", ["case.sla_warning", "case.sla_breached"])
def test_sla_events_emitted_for_a_case_start_runs_filtered_by_metric(
    personas, make_rule, worker, note_case, trigger
):
    make_rule(
        trigger_type=trigger,
        object_type="case",
        trigger_config={"match": {"metric": "first_response"}},
        conditions=CASE_CONDITIONS,
        actions=[{"type": "note_case"}],
    )
    case = _case()
    with transaction.atomic():
        outbox.emit(
            trigger, object_type="case", object_id=case.pk, payload={"metric": "resolution"}
        )
        event = outbox.emit(
            trigger, object_type="case", object_id=case.pk, payload={"metric": "first_response"}
        )
        same = outbox.emit(trigger, subject=case, payload={"metric": "first_response"})
    assert (event.object_type, same.object_type, same.object_id) == ("case", "case", case.pk)
    runs = worker()
    assert [(r.trigger_type, r.object_id, r.state) for r in runs] == [
        (trigger, case.pk, "done"),
        (trigger, case.pk, "done"),
    ]
    assert runs[0].input["event"]["payload"] == {"metric": "first_response"}


def test_no_rule_on_cases_writes_no_outbox_row(personas, make_rule):
    make_rule()  # contacts only
    case = _case()
    timeline_record(kind="case_opened", case_id=case.pk)
    assert outbox.emit("case.sla_breached", subject=case) is None
    assert not TriggerEvent.objects.exists() and not Run.objects.exists()
