from rapport.cases.models import Case, CaseEntry, Macro, Queue
from rapport.mail.models import Delivery, Mailbox


def _queue_with_mailbox(name="Desk"):
    box = Mailbox.objects.create(name="Help", email_address="help@rapport.test")
    return Queue.objects.create(name=name, mailbox=box)


def test_create_get_update_with_if_match_and_list_by_due(personas, api_as, desk):
    api = api_as(personas.owner)
    r = api.post(
        "/api/cases",
        {"subject": "Cannot log in", "contact_id": desk["ann"].pk, "body": "Help!"},
    )
    assert r.status_code == 201, r.data
    case = r.data
    assert case["account_id"] == desk["account"].pk and case["number"] >= 1
    assert r["ETag"] == f'"{case["version"]}"'
    r = api.patch(f"/api/cases/{case['id']}", {"priority": "high"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.data["priority"] == "high"
    r = api.patch(f"/api/cases/{case['id']}", {"priority": "low"}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    assert api.patch(f"/api/cases/{case['id']}", {"status": "resolved"}).status_code == 200
    r = api.patch(f"/api/cases/{case['id']}", {"status": "on_hold"})
    assert r.status_code == 422 and r.data["field"] == "status"
    api.patch(f"/api/cases/{case['id']}", {"status": "open"})
    Case.objects.filter(pk=case["id"]).update(due_at="2030-01-01T10:00:00Z")
    api.post("/api/cases", {"subject": "No SLA"})
    listed = api.get("/api/cases", sort="due_at").data
    assert [c["subject"] for c in listed["items"]] == ["Cannot log in", "No SLA"]
    assert listed["count"] == 2
    page = api.get("/api/cases", limit=1)
    assert page.data["next_cursor"]
    nxt = api.get("/api/cases", limit=1, cursor=page.data["next_cursor"]).data
    assert nxt["items"][0]["subject"] == "No SLA"


def test_outsider_gets_404_and_an_empty_list(personas, api_as, desk):
    r = api_as(personas.owner).post(
        "/api/cases", {"subject": "x", "account_id": desk["account"].pk}
    )
    outsider = api_as(personas.outsider)
    assert outsider.get(f"/api/cases/{r.data['id']}").status_code == 404
    assert outsider.get("/api/cases").data["count"] == 0
    # nor can they file a case on a customer they do not see
    r = outsider.post("/api/cases", {"subject": "x", "account_id": desk["account"].pk})
    assert r.status_code == 422 and r.data["field"] == "account_id"


def test_intake_by_external_id_is_idempotent(personas, api_as):
    api = api_as(personas.owner)
    body = {
        "subject": "Call from +1 555",
        "channel": "ivr",
        "external_id": "call-42",
        "source": "ivr",
        "details": {"ivr_path": "1>3", "duration_s": 120},
    }
    first = api.post("/api/cases", body)
    assert first.status_code == 201
    again = api.post("/api/cases", {**body, "body": "Customer called back"})
    assert again.status_code == 200 and again.data["id"] == first.data["id"]
    assert Case.objects.count() == 1
    assert CaseEntry.objects.filter(kind="customer").count() == 1


def test_reply_note_macro_merge_split_queues_and_agent_status(personas, api_as, desk):
    queue = _queue_with_mailbox()
    admin = api_as(personas.admin)
    case = admin.post(
        "/api/cases",
        {"subject": "Broken", "contact_id": desk["ann"].pk, "queue_id": queue.pk, "body": "a"},
    ).data
    r = admin.post(f"/api/cases/{case['id']}/entries", {"kind": "reply", "body": "On it"})
    assert r.status_code == 201 and r.data["message_id"]
    assert Delivery.objects.get().message.to == ["ann@customer.example"]
    r = admin.post(f"/api/cases/{case['id']}/entries", {"kind": "note", "body": ""})
    assert r.status_code == 422 and r.data["field"] == "body"
    r = admin.post(
        "/api/cases/macros",
        {
            "name": "Bye",
            "body": "Bye {{ contact.first_name }}",
            "set_fields": {"status": "resolved"},
        },
    )
    assert r.status_code == 201
    macro = Macro.objects.get()
    r = admin.post(f"/api/cases/{case['id']}/macros/{macro.pk}/apply", {"send": True})
    assert r.status_code == 200 and r.data["status"] == "resolved"
    assert Delivery.objects.filter(message__text_body__startswith="Bye Ann").exists()
    other = admin.post("/api/cases", {"subject": "Dup", "body": "b"}).data
    r = admin.post(f"/api/cases/{other['id']}/merge", {"target_id": case["id"]})
    assert r.status_code == 200
    assert admin.get(f"/api/cases/{other['id']}").data["merged_into_id"] == case["id"]
    entry = CaseEntry.objects.get(case_id=case["id"], body="b")
    r = admin.post(f"/api/cases/{case['id']}/split", {"entry_id": entry.pk})
    assert r.status_code == 201 and r.data["related_to_id"] == case["id"]
    assert api_as(personas.owner).post("/api/cases/queues", {"name": "Q"}).status_code == 403
    r = admin.post("/api/cases/queues", {"name": "VIP", "member_ids": [personas.owner.pk]})
    assert r.status_code == 201 and r.data["member_ids"] == [personas.owner.pk]
    r = admin.post("/api/cases/categories", {"name": "Billing"})
    assert r.status_code == 201
    r = admin.post("/api/cases/categories", {"name": "Refunds", "parent_id": r.data["id"]})
    assert r.status_code == 201
    me = api_as(personas.manager)
    assert me.get("/api/cases/agent-status").data["availability"] == "offline"
    assert me.put("/api/cases/agent-status", {"availability": "available"}).status_code == 200
    assert me.put("/api/cases/agent-status", {"availability": "zzz"}).status_code == 422


def test_workspace_views(personas, api_as, desk):
    Queue.objects.filter(pk=desk["queue"].pk).update(assignment="manual")
    admin = api_as(personas.admin)
    admin.post("/api/cases", {"subject": "mine", "owner_id": personas.teammate.pk})
    admin.post("/api/cases", {"subject": "free", "queue_id": desk["queue"].pk})
    me = api_as(personas.teammate)
    assert [c["subject"] for c in me.get("/api/cases", view="mine").data["items"]] == ["mine"]
    names = [c["subject"] for c in me.get("/api/cases", view="unassigned").data["items"]]
    assert names == ["free"]  # in the teammate's queue, nobody's yet
    assert me.get("/api/cases", view="open").data["count"] == 2
    assert api_as(personas.outsider).get("/api/cases", view="unassigned").data["count"] == 0


def test_manual_tier_override_wins_and_routes(personas, api_as, desk):
    api = api_as(personas.owner)
    url = f"/api/cases/tiers/{desk['account'].pk}"
    assert api.get(url).data == {
        "account_id": desk["account"].pk,
        "tier": "standard",
        "source": "analytics",
    }
    assert api.put(url, {"tier": "gold"}).data["source"] == "manual"
    case = api.post("/api/cases", {"subject": "x", "account_id": desk["account"].pk}).data
    assert case["tier"] == "gold"
    assert api.put(url, {"tier": "diamond"}).status_code == 422
    assert api_as(personas.outsider).put(url, {"tier": "gold"}).status_code == 404
