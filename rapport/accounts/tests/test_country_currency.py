"""Country and currency are ISO codes everywhere: pickers on the pages, validated by the
API on create and update, names mapped to codes by forms — "Germany" is never cut to "GE"."""

import pytest

from rapport.accounts.models import Account, Contact
from rapport.accounts.services import account_create
from rapport.web.testing import HTMX, field_error, text_of, ui_client

pytestmark = pytest.mark.django_db


def test_api_refuses_a_country_code_that_is_not_iso(personas, api_as):
    api = api_as(personas.owner)
    r = api.post("/api/accounts", {"name": "Acme", "country": "XX"})
    assert r.status_code == 422, r.data
    assert r.data["field"] == "country"
    assert "not an ISO country code" in r.data["detail"] or "not a country" in r.data["detail"]
    r = api.post("/api/accounts", {"name": "Acme", "shipping_country": "ZZ"})
    assert r.status_code == 422 and r.data["field"] == "shipping_country"
    assert not Account.objects.exists()


def test_api_refuses_a_full_country_name_instead_of_cutting_it(personas, api_as):
    r = api_as(personas.owner).post("/api/contacts", {"last_name": "Lee", "country": "Germany"})
    assert r.status_code == 422
    assert r.data["field"] == "country"
    assert not Contact.objects.exists()


def test_api_stores_lower_case_codes_upper_case(personas, api_as):
    r = api_as(personas.owner).post(
        "/api/accounts", {"name": "Acme", "country": "de", "currency": "usd"}
    )
    assert r.status_code == 201, r.data
    assert (r.data["country"], r.data["currency"]) == ("DE", "USD")


def test_api_patch_validates_country_and_currency(personas, api_as):
    api = api_as(personas.owner)
    pk = api.post("/api/accounts", {"name": "Acme", "country": "FR"}).data["id"]
    r = api.patch(f"/api/accounts/{pk}", {"country": "QQ"})
    assert r.status_code == 422 and r.data["field"] == "country"
    r = api.patch(f"/api/accounts/{pk}", {"currency": "XYZ"})
    assert r.status_code == 422 and r.data["field"] == "currency"
    account = Account.objects.get(pk=pk)
    assert (account.country, account.currency, account.version) == ("FR", "EUR", 1)


def test_api_refuses_unknown_currencies_on_leads_opportunities_and_products(personas, api_as):
    api = api_as(personas.owner)
    r = api.post("/api/opportunities", {"name": "Deal", "currency": "ABC"})
    assert r.status_code == 422 and r.data["field"] == "currency"
    r = api.post("/api/leads", {"last_name": "Lee", "country": "YY"})
    assert r.status_code == 422 and r.data["field"] == "country"
    r = api_as(personas.admin).post(
        "/api/products", {"sku": "P1", "name": "P", "unit_price": "1", "currency": "QQQ"}
    )
    assert r.status_code == 422 and r.data["field"] == "currency"


def test_account_form_offers_country_and_currency_pickers(personas):
    body = text_of(ui_client(personas.owner).get("/accounts/new"))
    assert '<select name="country"' in body
    assert '<option value="DE">Germany</option>' in body
    assert '<option value="GE">Georgia</option>' in body
    assert '<select name="currency"' in body
    assert '<option value="EUR" selected>EUR — Euro</option>' in body
    assert 'maxlength="2"' not in body


def test_account_form_maps_a_typed_country_name_to_its_code(personas):
    r = ui_client(personas.owner).post(
        "/accounts/new",
        {"name": "Globex", "currency": "Euro", "country": "Germany", "owner": personas.owner.pk},
    )
    assert r.status_code == 302
    account = Account.objects.get(name="Globex")
    assert (account.country, account.currency) == ("DE", "EUR")


def test_account_form_refuses_an_unknown_country_next_to_the_field(personas):
    r = ui_client(personas.owner).post(
        "/accounts/new",
        {"name": "Globex", "currency": "EUR", "country": "Germ", "owner": personas.owner.pk},
    )
    assert r.status_code == 422
    assert field_error(r, "“Germ” is not a country")
    assert not Account.objects.exists()


def test_inline_edit_of_country_uses_the_picker_and_shows_the_name(personas):
    account = account_create(actor=personas.owner, fields={"name": "Acme"})
    client = ui_client(personas.owner)
    url = f"/accounts/{account.pk}/fields/country/"
    form = text_of(client.get(url + "?edit=1", headers=HTMX))
    assert '<option value="DE">Germany</option>' in form
    r = client.post(url, {"value": "DE", "version": 1}, headers=HTMX)
    assert r.status_code == 200
    assert "Germany" in text_of(r)
    account.refresh_from_db()
    assert account.country == "DE"
    r = client.post(url, {"value": "Neverland", "version": 2}, headers=HTMX)
    assert r.status_code == 422
    assert "“Neverland” is not a country" in text_of(r)
    account.refresh_from_db()
    assert account.country == "DE"


def test_record_page_and_list_show_country_names(personas):
    account = account_create(actor=personas.owner, fields={"name": "Acme", "country": "DE"})
    client = ui_client(personas.owner)
    assert "Germany" in text_of(client.get(f"/accounts/{account.pk}/"))
    assert "Germany" in text_of(client.get("/accounts/"))


def test_opportunity_inline_currency_uses_the_picker(personas):
    from rapport.sales.services import opportunity_create

    opportunity = opportunity_create(actor=personas.owner, fields={"name": "Deal"})
    client = ui_client(personas.owner)
    url = f"/opportunities/{opportunity.pk}/fields/currency/"
    form = text_of(client.get(url + "?edit=1", headers=HTMX))
    assert '<option value="USD">USD — US Dollar</option>' in form
    r = client.post(url, {"value": "USD", "version": opportunity.version}, headers=HTMX)
    assert r.status_code == 200
    opportunity.refresh_from_db()
    assert opportunity.currency == "USD"
