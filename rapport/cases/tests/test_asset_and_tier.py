"""The case's installed-base asset (set by form and API, shown with its warranty status:
under warranty while warranty_end >= today) and the account's manual service tier from the
case page's customer panel."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from rapport.accounts.services import account_create
from rapport.assets.models import Asset
from rapport.cases.models import AccountServiceTier
from rapport.cases.services import case_create
from rapport.conftest import ApiClient
from rapport.sales.models import Product

pytestmark = pytest.mark.django_db


@pytest.fixture
def installed(personas, desk):
    printer = Product.objects.create(sku="P-1", name="Laser printer", is_tracked=True)
    today = timezone.localdate()
    return {
        "valid": Asset.objects.create(
            product=printer,
            account=desk["account"],
            serial_number="SN-1",
            warranty_end=today,
        ),
        "expired": Asset.objects.create(
            product=printer,
            account=desk["account"],
            serial_number="SN-2",
            warranty_end=today - datetime.timedelta(days=1),
        ),
        "foreign": Asset.objects.create(
            product=printer,
            account=account_create(actor=personas.owner, fields={"name": "Other Ltd"}),
            serial_number="SN-3",
        ),
    }


def _case(personas, desk):
    return case_create(
        actor=personas.owner,
        fields={"subject": "Paper jam", "account": desk["account"], "queue": desk["queue"]},
    )


def test_asset_form_and_warranty_status_on_the_case_page(personas, desk, installed):
    case = _case(personas, desk)
    owner = Client()
    owner.force_login(personas.owner)
    page = owner.get(f"/cases/{case.pk}/").content.decode()
    assert 'id="case-asset"' in page and "SN-1" in page and "SN-3" not in page
    owner.post(f"/cases/{case.pk}/asset", {"asset": installed["valid"].pk})
    case.refresh_from_db()
    assert case.asset_id == installed["valid"].pk and case.product_id is not None
    assert "Under warranty" in owner.get(f"/cases/{case.pk}/").content.decode()
    owner.post(f"/cases/{case.pk}/asset", {"asset": installed["expired"].pk})
    assert "Warranty ended" in owner.get(f"/cases/{case.pk}/").content.decode()
    owner.post(f"/cases/{case.pk}/asset", {"asset": installed["foreign"].pk})  # not offered
    case.refresh_from_db()
    assert case.asset_id == installed["expired"].pk


def test_asset_through_the_api_must_be_the_accounts(personas, desk, installed):
    case = _case(personas, desk)
    api = ApiClient(personas.owner)
    ok = api.patch(f"/api/cases/{case.pk}", {"asset_id": installed["valid"].pk})
    assert ok.status_code == 200 and ok.data["asset_id"] == installed["valid"].pk
    bad = api.patch(f"/api/cases/{case.pk}", {"asset_id": installed["foreign"].pk})
    assert bad.status_code == 422 and bad.data["field"] == "asset_id"


def test_tier_override_from_the_case_page(personas, desk):
    case = _case(personas, desk)
    owner = Client()
    owner.force_login(personas.owner)
    assert 'id="tier-override"' in owner.get(f"/cases/{case.pk}/").content.decode()
    owner.post(f"/cases/{case.pk}/tier", {"tier": "gold", "note": "key account"})
    row = AccountServiceTier.objects.get(account=desk["account"])
    assert (row.tier, row.note, row.set_by_id) == ("gold", "key account", personas.owner.pk)
    owner.post(f"/cases/{case.pk}/tier", {"tier": ""})
    assert not AccountServiceTier.objects.exists()
    # The teammate (the queue's agent) cannot see the owner's account: no form, 404.
    agent = Client()
    agent.force_login(personas.teammate)
    assert 'id="tier-override"' not in agent.get(f"/cases/{case.pk}/").content.decode()
    assert agent.post(f"/cases/{case.pk}/tier", {"tier": "gold"}).status_code == 404


def test_tier_on_the_account_page_set_and_cleared(personas, desk):
    """The account page's Cases card shows the tier and its source; who may edit the
    account overrides it there (htmx swaps the card) or clears it; new cases follow it."""
    account = desk["account"]
    owner = Client()
    owner.force_login(personas.owner)
    card = owner.get(f"/cases/for/account/{account.pk}/").content.decode()
    assert "<strong>Standard</strong>" in card and "from analytics" in card
    assert 'id="account-tier"' in card
    url = f"/cases/for/account/{account.pk}/tier"
    swapped = owner.post(url, {"tier": "platinum", "note": "board member"}, HTTP_HX_REQUEST="true")
    assert swapped.status_code == 200
    body = swapped.content.decode()
    assert "<strong>Platinum</strong>" in body and "set by hand by Olga Owner" in body
    assert "board member" in body and 'value="platinum" selected' in body
    row = AccountServiceTier.objects.get(account=account)
    assert (row.tier, row.note, row.set_by_id) == ("platinum", "board member", personas.owner.pk)
    assert (
        case_create(actor=personas.owner, fields={"subject": "Help", "account": account}).tier
        == "platinum"
    )
    # Without JavaScript: back to the account page, which loads the card.
    plain = owner.post(url, {"tier": ""})
    assert plain.status_code == 302 and plain["Location"] == f"/accounts/{account.pk}/"
    assert not AccountServiceTier.objects.filter(account=account).exists()
    page = owner.get(plain["Location"]).content.decode()
    assert f'hx-get="/cases/for/account/{account.pk}/"' in page
    assert "from analytics" in owner.get(f"/cases/for/account/{account.pk}/").content.decode()


def test_tier_on_the_account_page_refuses_bad_input_and_strangers(personas, desk):
    account = desk["account"]
    url = f"/cases/for/account/{account.pk}/tier"
    owner = Client()
    owner.force_login(personas.owner)
    bad = owner.post(url, {"tier": "diamond"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 422
    assert 'class="field-error"' in bad.content.decode() and "tier" in bad.content.decode()
    assert not AccountServiceTier.objects.exists()
    # Who cannot see the account: 404, nothing stored; the read-only user gets no form.
    outsider = Client()
    outsider.force_login(personas.outsider)
    assert outsider.post(url, {"tier": "gold"}).status_code == 404
    assert outsider.get(f"/cases/for/account/{account.pk}/").status_code == 404
    reader = Client()
    reader.force_login(personas.reader)
    card = reader.get(f"/cases/for/account/{account.pk}/")
    if card.status_code == 200:
        assert 'id="account-tier"' not in card.content.decode()
    assert reader.post(url, {"tier": "gold"}).status_code in (403, 404)
    assert not AccountServiceTier.objects.exists()
