import datetime
from types import SimpleNamespace

import pytest

from rapport.automation.actions import ActionContext, ActionFailed, get_action
from rapport.cases.models import Case


def _ctx(personas, subject, object_type):
    return ActionContext(
        run=SimpleNamespace(object_type=object_type, pk=1),
        rule=SimpleNamespace(pk=1, name="r"),
        subject=subject,
        actor=personas.admin,
        event={},
        now=datetime.datetime.now(datetime.UTC),
    )


def test_create_case_action_is_provided_and_opens_a_case_for_the_contact(personas, desk):
    spec = get_action("create_case")
    assert spec.available and spec.provided_by == "service"
    out = spec.handler(
        _ctx(personas, desk["ann"], "contact"),
        {"subject": "Follow up the complaint", "priority": "high", "queue_id": desk["queue"].pk},
    )
    case = Case.objects.get(pk=out["case_id"])
    assert (case.contact, case.account, case.priority, case.queue) == (
        desk["ann"],
        desk["account"],
        "high",
        desk["queue"],
    )
    with pytest.raises(ActionFailed):
        spec.handler(_ctx(personas, desk["ann"], "contact"), {"subject": ""})
    with pytest.raises(ActionFailed):
        spec.handler(_ctx(personas, desk["ann"], "contact"), {"subject": "x", "priority": "meh"})
