"""Pages offer only what the user may do: every action hidden here is one the service refuses
(and every action shown is one it allows)."""

import pytest

from rapport.accounts.services import account_create
from rapport.records.services import org_default_set
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db

NEW_MENU = "+ New"
BULK_BAR = 'id="bulk-form"'


def _page(user, path):
    response = ui_client(user).get(path)
    assert response.status_code == 200, path
    return text_of(response)


def test_read_only_user_is_offered_no_writes(personas):
    account = account_create(actor=personas.owner, fields={"name": "Readable Co"})
    org_default_set(object_type="account", access="public_read", actor=personas.admin)
    reader = personas.reader

    accounts = _page(reader, "/accounts/")
    assert "Readable Co" in accounts
    assert NEW_MENU not in accounts
    assert "New account" not in accounts
    assert BULK_BAR not in accounts and 'name="ids"' not in accounts
    assert ">Import</a>" not in accounts
    assert 'href="/imports/"' not in accounts and 'href="/settings/"' not in accounts

    record = _page(reader, f"/accounts/{account.pk}/")
    for action in ("Log activity", ">Edit</a>", ">Delete</button>", "Close account", ">Share</a>"):
        assert action not in record, action
    assert 'class="card composer-card"' not in record

    for path in ("/contacts/", "/leads/", "/opportunities/", "/activities/", "/orders/"):
        page = _page(reader, path)
        assert BULK_BAR not in page and "New " not in page.split("<main", 1)[1], path

    # What is hidden is what the services refuse.
    assert ui_client(reader).get("/accounts/new").status_code == 403
    assert ui_client(reader).get("/imports/new").status_code == 403


def test_rep_is_not_offered_settings_or_catalogue_changes(personas):
    owner = personas.owner
    accounts = _page(owner, "/accounts/")
    assert NEW_MENU in accounts and "New account" in accounts and BULK_BAR in accounts
    assert 'href="/imports/"' in accounts
    assert 'href="/settings/"' not in accounts
    products = _page(owner, "/products/")
    assert "New product" not in products and BULK_BAR not in products

    assert ui_client(owner).get("/settings/").status_code == 403
    assert ui_client(owner).get("/products/new").status_code == 403


@pytest.mark.parametrize("persona", ["manager", "admin"])
def test_managers_and_admins_are_offered_settings_and_the_catalogue(personas, persona):
    user = getattr(personas, persona)
    home = _page(user, "/")
    assert 'href="/settings/"' in home
    products = _page(user, "/products/")
    assert "New product" in products and BULK_BAR in products
    assert ui_client(user).get("/settings/").status_code == 200
