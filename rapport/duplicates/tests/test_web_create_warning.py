"""The "looks like an existing record" step of the create pages: a look-alike of a visible
record is shown before saving, with links, and "Create anyway" saves it."""

import pytest

from rapport.accounts.models import Account, Contact
from rapport.leads.models import Lead
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db

CONTACT = {"first_name": "Jane", "last_name": "Doe", "email": "Jane@acme.io"}
CASES = [
    ("/contacts/new", Contact, CONTACT),
    ("/accounts/new", Account, {"name": "ACME Inc", "website": "acme.io"}),
    ("/leads/new", Lead, {"first_name": "Jane", "last_name": "Doe", "email": "jane@acme.io"}),
]


def _post(client, path, data, **extra):
    body = {"status": "new", "currency": "EUR", **data, **extra}
    return client.post(path, body)


@pytest.mark.parametrize(("path", "model", "data"), CASES)
def test_a_look_alike_is_shown_before_saving_and_create_anyway_saves(personas, path, model, data):
    client = ui_client(personas.owner)
    first = _post(client, path, data)
    assert first.status_code == 302, text_of(first)
    existing = model.objects.get()

    warned = _post(client, path, data)
    page = text_of(warned)
    assert warned.status_code == 422
    assert "Looks like an existing record" in page
    assert f'href="{first["Location"]}"' in page  # a link to the existing record
    assert 'name="create_anyway"' in page
    assert model.objects.count() == 1
    # The form keeps what was typed.
    assert 'value="Jane"' in page or 'value="ACME Inc"' in page

    anyway = _post(client, path, data, create_anyway="1")
    assert anyway.status_code == 302
    assert model.objects.count() == 2 and model.objects.exclude(pk=existing.pk).exists()


@pytest.mark.parametrize(("path", "model", "data"), CASES)
def test_records_the_user_cannot_see_raise_no_warning(personas, path, model, data):
    assert _post(ui_client(personas.owner), path, data).status_code == 302
    r = _post(ui_client(personas.outsider), path, data)
    assert r.status_code == 302, text_of(r)
    assert model.objects.count() == 2


def test_a_different_contact_is_created_without_a_warning(personas):
    client = ui_client(personas.owner)
    assert _post(client, "/contacts/new", CONTACT).status_code == 302
    other = {"first_name": "Bob", "last_name": "Stone", "email": "bob@stone.io"}
    assert _post(client, "/contacts/new", other).status_code == 302
    assert Contact.objects.count() == 2


def test_invalid_input_shows_field_errors_not_the_warning(personas):
    client = ui_client(personas.owner)
    assert _post(client, "/contacts/new", CONTACT).status_code == 302
    r = _post(client, "/contacts/new", {**CONTACT, "last_name": ""})
    assert r.status_code == 422
    assert "Looks like an existing record" not in text_of(r)


def test_editing_a_record_never_warns(personas):
    client = ui_client(personas.owner)
    _post(client, "/contacts/new", CONTACT)
    _post(client, "/contacts/new", CONTACT, create_anyway="1")
    contact = Contact.objects.order_by("pk").last()
    r = client.post(f"/contacts/{contact.pk}/edit", {**CONTACT, "version": contact.version})
    assert r.status_code == 302
