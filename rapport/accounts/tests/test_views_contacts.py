"""Contact pages: forms with emails and phones, inline edits, their account, lists."""

import pytest

from rapport.accounts.models import Contact
from rapport.accounts.services import account_create, contact_create
from rapport.activities.models import Activity
from rapport.web.testing import HTMX, count_queries, csv_rows, field_error, text_of, ui_client

pytestmark = pytest.mark.django_db


def _contact(owner, last_name="Doe", **kwargs):
    return contact_create(actor=owner, fields={"last_name": last_name}, **kwargs)


def test_create_contact_with_emails_and_phones(personas):
    account = account_create(actor=personas.owner, fields={"name": "Acme"})
    client = ui_client(personas.owner)
    page = text_of(client.get(f"/contacts/new?account={account.pk}"))
    assert f'name="account" value="{account.pk}"' in page and 'value="Acme"' in page
    r = client.post(
        "/contacts/new",
        {
            "first_name": "Jane",
            "last_name": "Doe",
            "account": account.pk,
            "email": "Jane@Example.COM",
            "other_emails": "j@home.example\n\n jane@work.example ",
            "phone": "+1 (650) 253-0000",
            "other_phones": "+44 20 7946 0958",
            "owner": personas.owner.pk,
        },
    )
    contact = Contact.objects.get()
    assert r.status_code == 302
    assert r["Location"] == f"/contacts/{contact.pk}/"
    assert contact.account == account
    assert contact.email == "Jane@example.com"
    assert contact.phone == "+16502530000"
    assert [e.email for e in contact.emails.all()] == [
        "Jane@example.com",
        "j@home.example",
        "jane@work.example",
    ]
    assert contact.phones.count() == 2


def test_invalid_email_and_phone_errors_sit_next_to_their_fields(personas):
    client = ui_client(personas.owner)
    r = client.post(
        "/contacts/new",
        {"last_name": "Doe", "email": "not-an-email", "owner": personas.owner.pk},
    )
    assert r.status_code == 422
    assert field_error(r, "Not a valid email address")
    r = client.post(
        "/contacts/new",
        {
            "last_name": "Doe",
            "email": "ok@example.com",
            "other_emails": "also-bad",
            "owner": personas.owner.pk,
        },
    )
    assert r.status_code == 422
    body = text_of(r)
    # The error is under "Other emails", where the bad value was typed.
    assert body.index("Not a valid email address") > body.index('id="id_other_emails"')
    r = client.post("/contacts/new", {"last_name": "", "phone": "12", "owner": personas.owner.pk})
    assert r.status_code == 422
    assert field_error(r, "This field is required")
    assert not Contact.objects.exists()


def test_contact_form_cannot_link_an_invisible_account(personas):
    hidden = account_create(actor=personas.outsider, fields={"name": "Hidden"})
    r = ui_client(personas.owner).post(
        "/contacts/new", {"last_name": "Doe", "account": hidden.pk, "owner": personas.owner.pk}
    )
    assert r.status_code == 422
    assert "Hidden" not in text_of(r)
    assert not Contact.objects.exists()


def test_edit_keeps_the_kinds_of_existing_emails(personas):
    contact = _contact(
        personas.owner,
        emails=[{"email": "a@example.com"}, {"email": "home@example.com", "kind": "home"}],
    )
    client = ui_client(personas.owner)
    form = text_of(client.get(f"/contacts/{contact.pk}/edit"))
    assert "home@example.com" in form
    r = client.post(
        f"/contacts/{contact.pk}/edit",
        {
            "last_name": "Doe",
            "title": "CTO",
            "email": "a@example.com",
            "other_emails": "home@example.com",
            "owner": personas.owner.pk,
            "version": contact.version,
        },
    )
    assert r.status_code == 302
    contact.refresh_from_db()
    assert contact.title == "CTO"
    assert {e.email: e.kind for e in contact.emails.all()} == {
        "a@example.com": "work",
        "home@example.com": "home",
    }


def test_inline_edit_of_primary_email_keeps_the_other_emails(personas):
    contact = _contact(
        personas.owner,
        emails=[{"email": "old@example.com"}, {"email": "second@example.com", "kind": "home"}],
    )
    r = ui_client(personas.owner).post(
        f"/contacts/{contact.pk}/fields/email/",
        {"value": "new@example.com", "version": contact.version},
        headers=HTMX,
    )
    assert r.status_code == 200, text_of(r)
    contact.refresh_from_db()
    assert contact.email == "new@example.com"
    assert sorted(e.email for e in contact.emails.all()) == [
        "new@example.com",
        "second@example.com",
    ]


def test_inline_edit_of_a_read_only_field_is_refused(personas):
    contact = _contact(personas.owner)
    client = ui_client(personas.owner)
    assert "Edit" not in text_of(client.get(f"/contacts/{contact.pk}/fields/other_emails/"))
    r = client.post(f"/contacts/{contact.pk}/fields/other_emails/", {"value": "x", "version": 1})
    assert r.status_code == 403


def test_inline_edit_moves_the_contact_to_an_account_picked_by_name(personas):
    from rapport.accounts.models import Contact

    acme = account_create(actor=personas.owner, fields={"name": "Acme Tools"})
    hidden = account_create(actor=personas.outsider, fields={"name": "Hidden Works"})
    contact = _contact(personas.owner)
    client = ui_client(personas.owner)
    url = f"/contacts/{contact.pk}/fields/account/"
    r = client.post(url, {"value__q": "Acme", "version": contact.version})
    assert r.status_code == 200, text_of(r)
    assert Contact.objects.get(pk=contact.pk).account_id == acme.pk
    assert "Acme Tools" in text_of(r)
    # An account the user cannot see is neither found by name nor taken by id.
    version = Contact.objects.get(pk=contact.pk).version
    r = client.post(url, {"value__q": "Hidden Works", "version": version})
    assert r.status_code == 422 and "No account matches" in text_of(r)
    r = client.post(url, {"value": str(hidden.pk), "version": version})
    assert r.status_code == 422 and "No such account" in text_of(r)
    assert Contact.objects.get(pk=contact.pk).account_id == acme.pk
    # Emptying the picker takes the contact off the account.
    r = client.post(url, {"value": "", "value__q": "", "version": version})
    assert r.status_code == 200, text_of(r)
    assert Contact.objects.get(pk=contact.pk).account_id is None


def test_account_form_sets_and_inline_edit_changes_the_parent_account(personas):
    from rapport.accounts.models import Account

    group = account_create(actor=personas.owner, fields={"name": "Globex Group"})
    other = account_create(actor=personas.owner, fields={"name": "Initech Holding"})
    client = ui_client(personas.owner)
    r = client.post(
        "/accounts/new",
        {
            "name": "Globex Germany",
            "currency": "EUR",
            "owner": personas.owner.pk,
            "parent__q": "Globex Group",
        },
    )
    assert r.status_code == 302, text_of(r)
    child = Account.objects.get(name="Globex Germany")
    assert child.parent_id == group.pk
    page = text_of(client.get(f"/accounts/{child.pk}/"))
    assert "Parent account" in page and f'href="/accounts/{group.pk}/"' in page
    r = client.post(
        f"/accounts/{child.pk}/fields/parent/", {"value": str(other.pk), "version": child.version}
    )
    assert r.status_code == 200, text_of(r)
    assert Account.objects.get(pk=child.pk).parent_id == other.pk
    # An account cannot be its own parent: the service's error shows on the field.
    child.refresh_from_db()
    r = client.post(
        f"/accounts/{child.pk}/fields/parent/", {"value": str(child.pk), "version": child.version}
    )
    assert r.status_code == 422 and "cannot be its own parent" in text_of(r)


def test_contact_page_shows_its_account_and_logs_on_the_contact(personas):
    account = account_create(actor=personas.owner, fields={"name": "Parent Co"})
    contact = contact_create(actor=personas.owner, fields={"last_name": "Kid", "account": account})
    client = ui_client(personas.owner)
    page = text_of(client.get(f"/contacts/{contact.pk}/"))
    assert f'href="/accounts/{account.pk}/"' in page and "Parent Co" in page
    r = client.post(
        f"/contacts/{contact.pk}/composer",
        {"kind": "call", "subject": "Ring", "direction": "inbound"},
        headers=HTMX,
    )
    assert r.status_code == 200
    assert Activity.objects.get().contact_id == contact.pk
    # The contact's call shows on its account's timeline too.
    assert "Call: Ring" in text_of(client.get(f"/accounts/{account.pk}/"))


def test_outsider_gets_404_for_a_private_contact(personas):
    contact = _contact(personas.owner)
    client = ui_client(personas.outsider)
    assert client.get(f"/contacts/{contact.pk}/").status_code == 404
    assert client.post(f"/contacts/{contact.pk}/delete").status_code == 404
    assert "Doe" not in text_of(client.get("/contacts/"))


def test_contact_list_filters_by_account_with_a_named_chip(personas):
    account = account_create(actor=personas.owner, fields={"name": "Chip Co"})
    contact_create(actor=personas.owner, fields={"last_name": "Inside", "account": account})
    _contact(personas.owner, "Outside")
    page = text_of(ui_client(personas.owner).get(f"/contacts/?account_id={account.pk}"))
    assert "Inside" in page and "Outside" not in page
    assert "Account: Chip Co" in page
    hidden = account_create(actor=personas.outsider, fields={"name": "Secret"})
    page = text_of(ui_client(personas.owner).get(f"/contacts/?account_id={hidden.pk}"))
    assert "Secret" not in page
    assert "Some filters are not valid" in page


def test_contact_list_has_no_n_plus_one(personas):
    client = ui_client(personas.owner)
    account = account_create(actor=personas.owner, fields={"name": "A"})

    def grow(n, start):
        for i in range(start, start + n):
            contact_create(
                actor=personas.owner,
                fields={"last_name": f"L{i}", "account": account},
                emails=[{"email": f"c{i}@example.com"}],
                tags=["x"],
            )

    grow(3, 0)
    url = "/contacts/?cols=name,title,account,email,phone,owner,team,tags,created"
    client.get(url)
    few = count_queries(lambda: client.get(url))
    grow(17, 3)
    many = count_queries(lambda: client.get(url))
    assert few == many, (few, many)


def test_contact_export_neutralises_formulas(personas):
    _contact(personas.owner, "=cmd|' /C calc'!A0", emails=[{"email": "x@example.com"}])
    rows = csv_rows(ui_client(personas.owner).get("/contacts/export.csv"))
    assert rows[1][1] == "'=cmd|' /C calc'!A0"
    assert rows[1][4] == "x@example.com"


def test_trash_lists_deleted_contacts_and_restores_them(personas):
    contact = _contact(personas.owner, "Gone")
    client = ui_client(personas.owner)
    client.post(f"/contacts/{contact.pk}/delete")
    assert "Gone" in text_of(client.get("/contacts/trash"))
    assert client.get(f"/contacts/{contact.pk}/").status_code == 404
    client.post(f"/contacts/{contact.pk}/restore")
    assert client.get(f"/contacts/{contact.pk}/").status_code == 200


def test_a_contact_page_does_not_reveal_an_account_the_reader_cannot_see(personas):
    from rapport.records.services import record_share

    secret = account_create(actor=personas.outsider, fields={"name": "Secret Holdings"})
    contact = contact_create(
        actor=personas.outsider, fields={"last_name": "Shared", "account": secret}
    )
    record_share(record=contact, actor=personas.outsider, user=personas.owner, access="read")
    page = text_of(ui_client(personas.owner).get(f"/contacts/{contact.pk}/"))
    assert "Shared" in page
    assert "Secret Holdings" not in page and f"/accounts/{secret.pk}/" not in page
