from django.test import Client

from rapport.cases import services
from rapport.cases.models import Case, CaseEntry, Macro, QueueMember
from rapport.mail.models import Mailbox


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_workspace_case_page_compose_and_controls(personas, desk):
    box = Mailbox.objects.create(name="Help", email_address="help@rapport.test")
    desk["queue"].mailbox = box
    desk["queue"].save()
    case = services.case_create(
        actor=personas.owner,
        fields={"subject": "Printer on fire", "contact": desk["ann"], "queue": desk["queue"]},
        body="Smoke!",
    )
    Macro.objects.create(name="Thanks", body="Thanks {{ contact.first_name }}")
    agent = _client(personas.teammate)
    page = agent.get("/cases/?view=mine")
    assert page.status_code == 200 and b"Printer on fire" in page.content
    page = agent.get(f"/cases/{case.pk}/")
    assert page.status_code == 200
    assert b'id="kb-suggestions"' in page.content and b'id="case-reply-body"' in page.content
    # the teammate may not see the owner's private account: the panel names nobody
    assert b"Ann Customer" not in page.content
    assert b"Ann Customer" in _client(personas.owner).get(f"/cases/{case.pk}/").content
    macro = Macro.objects.get()
    preview = agent.get(f"/cases/{case.pk}/macro-preview?macro={macro.pk}")
    assert b"Thanks Ann" in preview.content
    r = agent.post(
        f"/cases/{case.pk}/compose",
        {
            "kind": "reply",
            "body": "Thanks Ann, on the way",
            "macro": macro.pk,
            "status": "pending_customer",
        },
    )
    assert r.status_code == 302
    case.refresh_from_db()
    assert case.status == "pending_customer" and case.first_response_at
    agent.post(f"/cases/{case.pk}/compose", {"kind": "note", "body": "Called the fire brigade"})
    assert list(CaseEntry.objects.filter(case=case).values_list("kind", flat=True)) == [
        "customer",
        "reply",
        "note",
    ]
    agent.post(f"/cases/{case.pk}/controls", {"status": "resolved", "priority": "urgent"})
    case.refresh_from_db()
    assert (case.status, case.priority) == ("resolved", "urgent")


def test_outsider_gets_404_and_reader_no_composer(personas, desk):
    case = services.case_create(
        actor=personas.owner, fields={"subject": "x", "account": desk["account"]}, route=False
    )
    assert _client(personas.outsider).get(f"/cases/{case.pk}/").status_code == 404
    services.case_assign(case=case, actor=personas.admin, queue=desk["queue"])
    QueueMember.objects.create(queue=desk["queue"], user=personas.reader)
    page = _client(personas.reader).get(f"/cases/{case.pk}/")
    assert page.status_code == 200 and b'id="case-reply-body"' not in page.content
    assert (
        _client(personas.reader).post(f"/cases/{case.pk}/compose", {"body": "x"}).status_code == 403
    )


def test_bulk_assign_skips_invisible_cases(personas, desk):
    mine = services.case_create(actor=personas.owner, fields={"subject": "a"}, route=False)
    hidden = services.case_create(actor=personas.outsider, fields={"subject": "b"}, route=False)
    r = _client(personas.owner).post(
        "/cases/bulk",
        {"ids": [mine.pk, hidden.pk], "action": "assign", "owner": personas.teammate.pk},
    )
    assert r.status_code == 302
    assert Case.objects.get(pk=mine.pk).owner == personas.teammate
    assert Case.objects.get(pk=hidden.pk).owner is None


def test_configure_page_admin_only_and_adds_a_queue(personas):
    assert _client(personas.owner).get("/cases/configure/").status_code == 403
    admin = _client(personas.admin)
    assert admin.get("/cases/configure/").status_code == 200
    admin.post(
        "/cases/configure/",
        {
            "what": "queues",
            "name": "Billing",
            "assignment": "least_open",
            "members": [personas.owner.pk],
        },
    )
    assert admin.get("/cases/configure/").content.count(b"Billing") >= 1


def test_cases_card_on_account_page(personas, desk):
    services.case_create(
        actor=personas.owner,
        fields={"subject": "Card case", "account": desk["account"]},
        route=False,
    )
    owner = _client(personas.owner)
    page = owner.get(f"/accounts/{desk['account'].pk}/")
    assert b"/cases/for/account/" in page.content
    card = owner.get(f"/cases/for/account/{desk['account'].pk}/")
    assert b"Card case" in card.content
    assert (
        _client(personas.outsider).get(f"/cases/for/account/{desk['account'].pk}/").status_code
        == 404
    )
