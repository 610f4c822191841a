"""Line items drive the opportunity's amount; editing them needs edit rights on it."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from rapport.records.exceptions import PermissionDenied, RecordNotFound, StaleVersion
from rapport.records.services import record_share
from rapport.sales.models import LineItem, Opportunity
from rapport.sales.services import (
    line_item_add,
    line_item_delete,
    line_item_update,
    price_book_create,
    price_book_entry_set,
    product_update,
)
from rapport.timeline.models import EventKind, TimelineEvent

pytestmark = pytest.mark.django_db


def amount_and_version(opp):
    row = Opportunity.objects.get(pk=opp.pk)
    return row.amount, row.version


def test_line_items_drive_the_amount(personas, make_opportunity, make_product):
    opp = make_opportunity(amount=Decimal("999"))
    assert amount_and_version(opp) == (Decimal("999"), 1)
    a = make_product(unit_price=Decimal("100"))
    b = make_product(unit_price=Decimal("40"))
    item_a = line_item_add(opportunity=opp, actor=personas.owner, product=a, quantity=Decimal("3"))
    assert amount_and_version(opp) == (Decimal("300.00"), 2)
    line_item_add(
        opportunity=opp,
        actor=personas.owner,
        product=b,
        quantity=Decimal("2"),
        discount_percent=Decimal("25"),
    )
    assert amount_and_version(opp) == (Decimal("360.00"), 3)
    line_item_update(line_item=item_a, actor=personas.owner, fields={"quantity": Decimal("1")})
    assert amount_and_version(opp) == (Decimal("160.00"), 4)
    line_item_delete(line_item=item_a, actor=personas.owner)
    assert amount_and_version(opp) == (Decimal("60.00"), 5)
    events = TimelineEvent.objects.filter(opportunity=opp, kind=EventKind.UPDATED)
    assert events.count() == 4
    latest = events.first()
    assert latest.payload["line_item"]["action"] == "removed"
    assert latest.payload["changes"]["amount"] == {"old": "160.00", "new": "60.00"}


def test_an_unchanged_amount_still_bumps_the_version(personas, make_opportunity, make_product):
    opp = make_opportunity()
    product = make_product()
    item = line_item_add(opportunity=opp, actor=personas.owner, product=product)
    version = amount_and_version(opp)[1]
    line_item_update(line_item=item, actor=personas.owner, fields={"position": 9})
    assert amount_and_version(opp)[1] == version + 1


def test_opportunity_without_line_items_keeps_its_amount(personas, make_opportunity):
    opp = make_opportunity(amount=Decimal("1234.56"))
    assert amount_and_version(opp)[0] == Decimal("1234.56")


def test_unit_price_from_default_price_book_else_product(personas, make_opportunity, make_product):
    opp = make_opportunity()
    product = make_product(unit_price=Decimal("100"))
    assert line_item_add(opportunity=opp, actor=personas.owner, product=product).unit_price == 100
    book = price_book_create(actor=personas.manager, fields={"name": "2030", "is_default": True})
    price_book_entry_set(
        price_book=book, product=product, unit_price=Decimal("80"), actor=personas.manager
    )
    item = line_item_add(opportunity=opp, actor=personas.owner, product=product)
    assert item.unit_price == Decimal("80")
    explicit = line_item_add(
        opportunity=opp, actor=personas.owner, product=product, unit_price=Decimal("70")
    )
    assert explicit.unit_price == Decimal("70")


def test_inactive_product_cannot_be_added(personas, make_opportunity, make_product):
    opp = make_opportunity()
    product = make_product()
    product_update(product=product, actor=personas.manager, fields={"is_active": False})
    with pytest.raises(ValidationError) as exc:
        line_item_add(opportunity=opp, actor=personas.owner, product=product)
    assert "product_id" in exc.value.message_dict


def test_bad_line_values_are_refused(personas, make_opportunity, make_product):
    opp = make_opportunity()
    product = make_product()
    for values, field in (
        ({"quantity": Decimal("0")}, "quantity"),
        ({"discount_percent": Decimal("101")}, "discount_percent"),
        ({"unit_price": Decimal("-1")}, "unit_price"),
    ):
        with pytest.raises(ValidationError) as exc:
            line_item_add(opportunity=opp, actor=personas.owner, product=product, **values)
        assert field in exc.value.message_dict
    assert not LineItem.objects.exists()


def test_line_item_edits_need_edit_rights(personas, make_opportunity, make_product):
    opp = make_opportunity()
    product = make_product()
    item = line_item_add(opportunity=opp, actor=personas.owner, product=product)
    with pytest.raises(RecordNotFound):
        line_item_add(opportunity=opp, actor=personas.outsider, product=product)
    with pytest.raises(RecordNotFound):
        line_item_delete(line_item=item, actor=personas.teammate)
    with pytest.raises(StaleVersion):
        line_item_update(
            line_item=item,
            actor=personas.owner,
            fields={"quantity": Decimal("2")},
            expected_version=4,
        )
    record_share(record=opp, actor=personas.owner, user=personas.reader, access="edit")
    with pytest.raises(PermissionDenied):
        line_item_update(line_item=item, actor=personas.reader, fields={"quantity": Decimal("2")})


# ----- API ----------------------------------------------------------------------------------


def test_line_item_endpoints(personas, api_as, make_opportunity, make_product):
    opp = make_opportunity(amount=Decimal("5"))
    product = make_product(unit_price=Decimal("19.99"))
    api = api_as(personas.owner)
    url = f"/api/opportunities/{opp.pk}/line-items"
    r = api.post(url, {"product_id": product.pk, "quantity": "2", "discount_percent": "10"})
    assert r.status_code == 201, r.data
    item = r.data
    assert (item["product_sku"], Decimal(item["unit_price"]), Decimal(item["total"])) == (
        product.sku,
        Decimal("19.99"),
        Decimal("35.98"),
    )
    opp_body = api.get(f"/api/opportunities/{opp.pk}").data
    assert (Decimal(opp_body["amount"]), opp_body["version"]) == (Decimal("35.98"), 2)
    r = api.patch(f"{url}/{item['id']}", {"quantity": "3"}, headers={"If-Match": '"1"'})
    assert (r.status_code, r.data["version"], r["ETag"]) == (200, 2, '"2"')
    r = api.patch(f"{url}/{item['id']}", {"quantity": "4"}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    r = api.get(url)
    assert [Decimal(i["total"]) for i in r.data] == [Decimal("53.97")]
    assert Decimal(api.get(f"/api/opportunities/{opp.pk}").data["amount"]) == Decimal("53.97")
    assert api.delete(f"{url}/{item['id']}", headers={"If-Match": '"1"'}).status_code == 412
    assert api.delete(f"{url}/{item['id']}", headers={"If-Match": '"2"'}).status_code == 204
    assert api.get(url).data == []
    assert Decimal(api.get(f"/api/opportunities/{opp.pk}").data["amount"]) == Decimal("0")
    assert api.delete(f"{url}/{item['id']}").status_code == 404


def test_line_item_api_refuses_bad_input(personas, api_as, make_opportunity, make_product):
    opp = make_opportunity()
    product = make_product()
    api = api_as(personas.owner)
    url = f"/api/opportunities/{opp.pk}/line-items"
    for payload, field in (
        ({"product_id": product.pk, "quantity": "0"}, "quantity"),
        ({"product_id": product.pk, "quantity": "-2"}, "quantity"),
        ({"product_id": product.pk, "discount_percent": "100.5"}, "discount_percent"),
        ({"product_id": product.pk, "unit_price": "-1"}, "unit_price"),
        ({"product_id": 987654}, "product_id"),
        ({}, "product_id"),
    ):
        r = api.post(url, payload)
        assert (r.status_code, r.data["field"]) == (422, field), payload


def test_line_item_visibility(personas, api_as, make_opportunity, make_product):
    opp = make_opportunity()
    product = make_product()
    item = (
        api_as(personas.owner)
        .post(f"/api/opportunities/{opp.pk}/line-items", {"product_id": product.pk})
        .data
    )
    url = f"/api/opportunities/{opp.pk}/line-items"
    outsider = api_as(personas.outsider)
    assert outsider.get(url).status_code == 404
    assert outsider.post(url, {"product_id": product.pk}).status_code == 404
    assert outsider.patch(f"{url}/{item['id']}", {"quantity": "2"}).status_code == 404
    api_as(personas.owner).post(
        f"/api/opportunities/{opp.pk}/shares", {"user_id": personas.reader.pk}
    )
    reader = api_as(personas.reader)
    assert reader.get(url).status_code == 200
    assert reader.post(url, {"product_id": product.pk}).status_code == 403
    assert reader.delete(f"{url}/{item['id']}").status_code == 403
    assert (
        api_as(personas.manager).patch(f"{url}/{item['id']}", {"quantity": "2"}).status_code == 200
    )


def test_line_items_list_query_count_is_fixed(
    personas, api_as, make_opportunity, make_product, django_assert_max_num_queries
):
    opp = make_opportunity()
    for _ in range(8):
        line_item_add(opportunity=opp, actor=personas.owner, product=make_product())
    api = api_as(personas.owner)
    api.get("/api/me")  # a token's first use records last_used_at: keep it out of the count
    with django_assert_max_num_queries(6):
        r = api.get(f"/api/opportunities/{opp.pk}/line-items")
    assert len(r.data) == 8
