"""A work order from the case page: the button, the form prefilled from the case (customer,
asset, address, title), and the work order listed back on the case."""

import pytest
from django.test import Client

from rapport.accounts.models import Account
from rapport.cases.models import Case
from rapport.fieldservice.models import WorkOrder
from rapport.portal.tests.factories import make_customers

pytestmark = pytest.mark.django_db


def _staff(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_new_work_order_from_a_case_is_prefilled_and_linked_back(personas):
    alice, bob = make_customers(personas)
    Account.objects.filter(pk=alice.account.pk).update(street="5 Rue Haute", city="Lyon")
    Case.objects.filter(pk=alice.case.pk).update(asset=alice.asset)
    staff = _staff(personas.owner)
    case_page = staff.get(f"/cases/{alice.case.pk}/").content.decode()
    assert f"/field/work-orders/new?case={alice.case.pk}" in case_page
    assert "No work orders." in case_page

    form = staff.get("/field/work-orders/new", {"case": alice.case.pk}).content.decode()
    assert f'name="asset" value="{alice.asset.pk}"' in form
    assert "5 Rue Haute, Lyon" in form
    assert alice.case.subject.replace("'", "&#x27;") in form
    assert f'value="{alice.account.pk}"' in form  # the customer picker holds the account

    created = staff.post(
        "/field/work-orders/new",
        {
            "case": alice.case.pk,
            "asset": alice.asset.pk,
            "title": "Fix the jam",
            "account": alice.account.pk,
            "contact": alice.contact.pk,
            "address": "5 Rue Haute, Lyon",
        },
    )
    assert created.status_code == 302, created.content
    wo = WorkOrder.objects.get()
    assert (wo.case_id, wo.asset_id, wo.account_id, wo.contact_id) == (
        alice.case.pk,
        alice.asset.pk,
        alice.account.pk,
        alice.contact.pk,
    )
    case_page = staff.get(f"/cases/{alice.case.pk}/").content.decode()
    assert f"/field/work-orders/{wo.pk}/" in case_page and "Fix the jam" in case_page
    # Someone who cannot see the case gets no form from it.
    assert (
        _staff(personas.outsider).get("/field/work-orders/new", {"case": alice.case.pk}).status_code
        == 404
    )
    reader_page = _staff(personas.reader).get(f"/cases/{alice.case.pk}/").content.decode()
    assert "/field/work-orders/new" not in reader_page
