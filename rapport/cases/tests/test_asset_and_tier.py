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
