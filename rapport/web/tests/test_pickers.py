"""Record pickers: type a name (with or without JavaScript) to link a visible record; nothing
the user may not see is offered, found or accepted. Exercised through the activity form."""

import datetime

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.activities.models import Activity
from rapport.activities.services import activity_log
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def people_and_records(personas):
    acme = account_create(actor=personas.owner, fields={"name": "Acme Tools"})
    ada = contact_create(
        actor=personas.owner, fields={"first_name": "Ada", "last_name": "Lovelace", "account": acme}
    )
    twin_one = contact_create(
        actor=personas.owner, fields={"first_name": "Sam", "last_name": "Lee"}
    )
    twin_two = contact_create(
        actor=personas.owner, fields={"first_name": "Sam", "last_name": "Leeds"}
    )
    hidden = contact_create(
        actor=personas.outsider, fields={"first_name": "Grace", "last_name": "Hopper"}
    )
    return {"acme": acme, "ada": ada, "sams": (twin_one, twin_two), "hidden": hidden}


def _call(**extra):
    return {
        "kind": "call",
        "subject": "Intro",
        "occurred_at": "2030-05-14T12:00",
        "direction": "outbound",
        **extra,
    }


def test_suggestions_show_only_visible_records_of_the_type(personas, people_and_records):
    client = ui_client(personas.owner)
    page = text_of(client.get("/pick/contact", {"contact__q": "lovel"}))
    assert "Ada Lovelace" in page and 'data-pick-id="' in page
    assert "Acme Tools" in page  # the subtitle says which account
    assert "Hopper" not in text_of(client.get("/pick/contact", {"contact__q": "hopper"}))
    assert "No contacts match" in text_of(client.get("/pick/contact", {"contact__q": "hopper"}))
    assert client.get("/pick/users", {"q": "a"}).status_code == 404
    assert ui_client().get("/pick/contact", {"q": "ada"}).status_code == 302  # sign in first


def test_typed_name_links_the_only_match_without_javascript(personas, people_and_records):
    client = ui_client(personas.owner)
    r = client.post("/activities/new", _call(owner=personas.owner.pk, contact__q="Ada Lovelace"))
    assert r.status_code == 302, text_of(r)
    call = Activity.objects.get(subject="Intro")
    assert call.contact_id == people_and_records["ada"].pk


def test_ambiguous_name_lists_the_candidates_and_a_choice_settles_it(personas, people_and_records):
    client = ui_client(personas.owner)
    r = client.post("/activities/new", _call(owner=personas.owner.pk, contact__q="Sam"))
    assert r.status_code == 422
    page = text_of(r)
    assert "Several contacts match “Sam”: choose one below" in page
    one, two = people_and_records["sams"]
    assert f'type="radio" name="contact" value="{one.pk}"' in page
    assert f'type="radio" name="contact" value="{two.pk}"' in page
    r = client.post(
        "/activities/new", _call(owner=personas.owner.pk, contact__q="Sam", contact=str(two.pk))
    )
    assert r.status_code == 302, text_of(r)
    assert Activity.objects.get(subject="Intro").contact_id == two.pk


def test_invisible_records_are_neither_found_nor_accepted(personas, people_and_records):
    client = ui_client(personas.owner)
    hidden = people_and_records["hidden"]
    r = client.post("/activities/new", _call(owner=personas.owner.pk, contact__q="Grace Hopper"))
    assert r.status_code == 422
    assert "No contact matches “Grace Hopper”" in text_of(r)
    r = client.post("/activities/new", _call(owner=personas.owner.pk, contact=str(hidden.pk)))
    assert r.status_code == 422
    assert "No such contact" in text_of(r)
    assert not Activity.objects.exists()


def test_meeting_with_attendees_then_edit_moves_its_links(personas, people_and_records):
    client = ui_client(personas.owner)
    one, two = people_and_records["sams"]
    r = client.post(
        "/activities/new",
        {
            "kind": "meeting",
            "subject": "Workshop",
            "owner": personas.owner.pk,
            "starts_at": "2030-05-14T10:00",
            "account": str(people_and_records["acme"].pk),
            "attendee_contacts": [str(one.pk)],
            "attendee_contacts__q": "Ada Lovelace",
            "attendee_users": [str(personas.teammate.pk)],
        },
    )
    assert r.status_code == 302, text_of(r)
    meeting = Activity.objects.get(subject="Workshop")
    assert set(meeting.attendee_contacts.values_list("pk", flat=True)) == {
        one.pk,
        people_and_records["ada"].pk,
    }
    assert list(meeting.attendee_users.values_list("pk", flat=True)) == [personas.teammate.pk]
    form = text_of(client.get(f"/activities/{meeting.pk}/edit"))
    assert 'value="Acme Tools"' in form  # the picker shows the linked account by name
    assert "Ada Lovelace" in form and "Sam Lee" in form  # the attendee chips
    r = client.post(
        f"/activities/{meeting.pk}/edit",
        {
            "subject": "Workshop",
            "owner": personas.owner.pk,
            "starts_at": "2030-05-14T10:00",
            "account": "",
            "account__q": "",
            "contact__q": "Sam Leeds",
            "attendee_contacts": [str(two.pk)],
            "attendee_contacts__q": "",
            "version": meeting.version,
        },
    )
    assert r.status_code == 302, text_of(r)
    meeting.refresh_from_db()
    assert (meeting.account_id, meeting.contact_id) == (None, two.pk)
    assert list(meeting.attendee_contacts.values_list("pk", flat=True)) == [two.pk]
    assert not meeting.attendee_users.exists()


def test_prefilled_link_from_the_address(personas, people_and_records):
    acme = people_and_records["acme"]
    page = text_of(ui_client(personas.owner).get(f"/activities/new?kind=task&account={acme.pk}"))
    assert f'name="account" value="{acme.pk}"' in page and 'value="Acme Tools"' in page
    # Someone else's record in the address is not shown.
    activity_log(
        actor=personas.owner,
        kind="task",
        fields={"subject": "x", "due_at": datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)},
    )
    page = text_of(ui_client(personas.outsider).get(f"/activities/new?kind=task&account={acme.pk}"))
    assert "Acme Tools" not in page


def test_editing_keeps_a_link_the_editor_cannot_see(personas):
    """A contact shared with the owner sits under an account only its owner sees: the edit
    form shows the link without the name, and saving keeps it (a plain select lost it)."""
    from rapport.accounts.models import Account, Contact
    from rapport.records.services import record_share

    secret = account_create(actor=personas.outsider, fields={"name": "Secret Holdings"})
    child = account_create(actor=personas.outsider, fields={"name": "Child Co", "parent": secret})
    contact = contact_create(
        actor=personas.outsider, fields={"last_name": "Shared", "account": secret}
    )
    record_share(record=contact, actor=personas.outsider, user=personas.owner, access="edit")
    record_share(record=child, actor=personas.outsider, user=personas.owner, access="edit")
    client = ui_client(personas.owner)

    form = text_of(client.get(f"/contacts/{contact.pk}/edit"))
    import re

    assert "Secret Holdings" not in form, re.findall(r".{80}Secret Holdings.{40}", form)
    assert "(not visible to you)" in form and f'name="account" value="{secret.pk}"' in form
    r = client.post(
        f"/contacts/{contact.pk}/edit",
        {
            "last_name": "Shared-renamed",
            "account": str(secret.pk),
            "account__q": "",
            "owner": personas.outsider.pk,
            "version": contact.version,
        },
    )
    assert r.status_code == 302, text_of(r)
    contact = Contact.objects.get(pk=contact.pk)
    assert (contact.last_name, contact.account_id) == ("Shared-renamed", secret.pk)

    r = client.post(
        f"/accounts/{child.pk}/edit",
        {
            "name": "Child Co renamed",
            "currency": "EUR",
            "parent": str(secret.pk),
            "parent__q": "",
            "owner": personas.outsider.pk,
            "version": child.version,
        },
    )
    assert r.status_code == 302, text_of(r)
    child = Account.objects.get(pk=child.pk)
    assert (child.name, child.parent_id) == ("Child Co renamed", secret.pk)
