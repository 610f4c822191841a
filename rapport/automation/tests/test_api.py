"""The automation API: CRUD of rules (administrators), validation naming the field, runs and
steps, replay; managers read, reps get 403 / 404."""

import pytest

from rapport.accounts.services import contact_create

pytestmark = pytest.mark.django_db

RULE = {
    "name": "Tag new contacts",
    "trigger_type": "record.created",
    "object_type": "contact",
    "conditions": {
        "op": "and",
        "items": [{"field": "city", "operator": "equals", "value": "Paris"}],
    },
    "actions": [{"type": "add_tag", "params": {"tag": "paris"}}],
}


def test_admin_creates_reads_updates_and_deletes_a_rule(personas, api_as):
    api = api_as(personas.admin)
    r = api.post("/api/automation/rules", RULE)
    assert r.status_code == 201, r.data
    assert r["ETag"] == '"1"'
    pk = r.data["id"]
    assert api.get(f"/api/automation/rules/{pk}").data["name"] == "Tag new contacts"
    r = api.patch(f"/api/automation/rules/{pk}", {"is_active": False}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.data["is_active"] is False and r.data["version"] == 2
    r = api.patch(f"/api/automation/rules/{pk}", {"name": "x"}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    assert api.get("/api/automation/rules").data["count"] == 1
    assert api.delete(f"/api/automation/rules/{pk}").status_code == 204
    assert api.get(f"/api/automation/rules/{pk}").status_code == 404


def _nest(levels: int) -> dict:
    """An if/else `levels` deep, tagging at the bottom."""
    action: dict = {"type": "add_tag", "params": {"tag": "deep"}}
    for _ in range(levels):
        action = {"type": "branch", "params": {"conditions": {}}, "then": [action], "else": []}
    return action


@pytest.mark.parametrize(
    "change, field",
    [
        ({"trigger_type": "record.exploded"}, "trigger_type"),
        ({"actions": []}, "actions"),
        ({"actions": [{"type": "teleport"}]}, "actions[0].type"),
        (
            {"trigger_type": "schedule", "trigger_config": {"cron": "every day"}},
            "trigger_config.cron",
        ),
        (
            {"trigger_type": "date.relative", "trigger_config": {"field": "city"}},
            "trigger_config.field",
        ),
        (
            {"conditions": {"op": "and", "items": [{"field": "city", "operator": "sounds_like"}]}},
            "conditions.items[0].operator",
        ),
        ({"actions": [{"type": "wait", "params": {"hours": -1}}]}, "actions[0].params"),
        (
            {
                "actions": [
                    {"type": "branch", "then": [{"type": "branch", "else": [{"type": "x"}]}]}
                ]
            },
            "actions[0].then[0].else[0].type",
        ),
        (
            {"actions": [_nest(5)]},
            "actions[0].then[0].then[0].then[0].then[0].then",
        ),
    ],
)
def test_bad_rules_are_refused_naming_the_field(personas, api_as, change, field):
    r = api_as(personas.admin).post("/api/automation/rules", {**RULE, **change})
    assert r.status_code == 422, r.data
    fields = [r.data.get("field")] + [e.get("field") for e in r.data.get("errors", [])]
    assert field in fields, r.data


def test_only_admins_write_rules_managers_read_reps_see_nothing(personas, api_as):
    pk = api_as(personas.admin).post("/api/automation/rules", RULE).data["id"]
    assert api_as(personas.manager).get(f"/api/automation/rules/{pk}").status_code == 200
    assert api_as(personas.manager).post("/api/automation/rules", RULE).status_code == 403
    assert api_as(personas.owner).get("/api/automation/rules").status_code == 403
    assert (
        api_as(personas.owner).patch(f"/api/automation/rules/{pk}", {"name": "x"}).status_code
        == 403
    )
    # A non-manual rule cannot be started by a rep, and its existence does not leak.
    assert (
        api_as(personas.owner).post(f"/api/automation/rules/{pk}/run", {"ids": [1]}).status_code
        == 404
    )


def test_runs_and_steps_with_input_output_and_replay(personas, api_as, worker):
    api = api_as(personas.admin)
    pk = api.post("/api/automation/rules", RULE).data["id"]
    contact_create(actor=personas.owner, fields={"last_name": "Lee", "city": "Paris"})
    worker()
    runs = api.get(f"/api/automation/rules/{pk}/runs").data
    assert runs["count"] == 1
    run = runs["items"][0]
    assert run["state"] == "done" and run["input"]["event"]["type"] == "record.created"
    detail = api.get(f"/api/automation/runs/{run['id']}").data
    (step,) = detail["steps"]
    assert step["action_type"] == "add_tag" and step["input"] == {"tag": "paris"}
    assert step["output"] == {"tags": ["paris"]} and step["duration_ms"] is not None
    r = api.post(f"/api/automation/runs/{run['id']}/replay")
    assert r.status_code == 202 and r.data["replay_of_id"] == run["id"]
    worker()
    assert api.get(f"/api/automation/rules/{pk}/runs", state="done").data["count"] == 2
    assert api.get(f"/api/automation/rules/{pk}/runs", state="nope").status_code == 422


def test_action_catalogue_says_which_slots_are_not_available(personas, api_as):
    from rapport.automation.actions import _REGISTRY, ActionSpec, register_action, unavailable

    register_action(
        ActionSpec("future_slot", "Future", unavailable("a future app"), available=False)
    )
    try:
        actions = {a["type"]: a for a in api_as(personas.admin).get("/api/automation/actions").data}
    finally:
        _REGISTRY.pop("future_slot", None)
    assert actions["add_tag"]["available"] is True
    # by the mail, webhooks, cases and segments apps
    for provided in ("send_email", "call_webhook", "create_case", "add_to_segment"):
        assert actions[provided]["available"] is True
    assert actions["future_slot"]["available"] is False


def test_nested_branches_are_stored_and_walked_to_the_right_leaf(personas, api_as, worker):
    city_is = {"op": "and", "items": [{"field": "city", "operator": "equals", "value": "Paris"}]}
    vip = {"op": "and", "items": [{"field": "tags", "operator": "contains", "value": "vip"}]}
    rule = {
        **RULE,
        "conditions": {},
        "actions": [
            {
                "type": "branch",
                "params": {"conditions": city_is},
                "then": [
                    {
                        "type": "branch",
                        "params": {"conditions": vip},
                        "then": [{"type": "add_tag", "params": {"tag": "paris-vip"}}],
                        "else": [{"type": "add_tag", "params": {"tag": "paris-other"}}],
                    }
                ],
                "else": [{"type": "add_tag", "params": {"tag": "elsewhere"}}],
            }
        ],
    }
    api = api_as(personas.admin)
    r = api.post("/api/automation/rules", rule)
    assert r.status_code == 201, r.data
    assert r.data["actions"][0]["then"][0]["else"] == [
        {"type": "add_tag", "params": {"tag": "paris-other"}}
    ]
    paris = contact_create(actor=personas.owner, fields={"last_name": "A", "city": "Paris"})
    rome = contact_create(actor=personas.owner, fields={"last_name": "B", "city": "Rome"})
    runs = worker()
    assert [run.state for run in runs] == ["done", "done"]
    assert list(paris.tags.values_list("name", flat=True)) == ["paris-other"]
    assert list(rome.tags.values_list("name", flat=True)) == ["elsewhere"]
    paths = sorted(runs[0].steps.values_list("path", flat=True))
    assert paths == ["0", "0.then.0", "0.then.0.else.0"]


def test_a_null_in_a_rule_patch_clears_a_text_or_names_the_field(personas, api_as):
    """Was a 500 (NOT NULL constraint failed: description, is_active, object_type), found by
    the null-per-PATCH-field fuzz."""
    api = api_as(personas.admin)
    pk = api.post("/api/automation/rules", {**RULE, "description": "About Paris"}).data["id"]
    url = f"/api/automation/rules/{pk}"
    cleared = api.patch(url, {"description": None})
    assert cleared.status_code == 200 and cleared.data["description"] == "", cleared.data
    for field in ("name", "is_active", "trigger_type", "max_attempts", "trigger_config"):
        refused = api.patch(url, {field: None})
        assert refused.status_code == 422 and refused.data["field"] == field, (field, refused.data)
    kept = api.get(url).data
    assert kept["name"] == "Tag new contacts" and kept["is_active"] is True
    assert kept["trigger_type"] == "record.created" and kept["object_type"] == "contact"
