"""Browser journey: an agent starts a return from an order line on the order page, fills
the form and moves the return through approval, receipt, inspection and resolution; then
checks the new-return page on a phone is not wider than the screen."""

from decimal import Decimal

import pytest
from django.urls import get_resolver
from django.utils import timezone
from playwright.sync_api import expect

from rapport.accounts.services import account_create, contact_create
from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.identity.services import user_create
from rapport.orders.models import Order, OrderLine
from rapport.returns.models import ReturnRequest
from rapport.sales.models import Product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SLOW = 30_000


@pytest.fixture
def order(transactional_db):
    get_resolver().reverse_dict  # noqa: B018 - import every view before the first page
    agent = user_create(username="ada", first_name="Ada", last_name="Agent", validate=False)
    account = account_create(actor=agent, fields={"name": "Bakery Roux"})
    contact = contact_create(
        actor=agent, fields={"first_name": "Marie", "last_name": "Roux", "account": account}
    )
    product = Product.objects.create(sku="OV-1", name="Oven", unit_price=Decimal("900"))
    order = Order.objects.create(
        account=account, contact=contact, ordered_at=timezone.now(), total=Decimal("1800")
    )
    line = OrderLine.objects.create(
        order=order, product=product, quantity=Decimal("2"), unit_price=Decimal("900")
    )
    return agent, order, line


def test_agent_starts_a_return_from_the_order_and_resolves_it(page, order, screenshot):
    agent, order, line = order
    page.set_default_timeout(SLOW)
    sign_in(page, agent)
    page.goto(f"/orders/{order.pk}/")
    page.wait_for_load_state("load")
    page.get_by_role("link", name="Return Oven").click()
    expect(page.get_by_role("heading", name="New return")).to_be_visible()
    page.get_by_label("Quantity").fill("1")
    page.get_by_label("Reason").select_option("damaged")
    page.get_by_label("Condition").select_option("damaged")
    page.get_by_label("Requested disposition").select_option("replacement")
    page.get_by_label("Description").fill("Door glass cracked on arrival")
    page.get_by_role("button", name="Request the return").click()
    expect(page.locator("#return-status")).to_have_text("Requested")
    row = ReturnRequest.objects.get()
    for button, shown in (
        ("Approved", "Approved"),
        ("Received", "Received"),
        ("Inspected", "Inspected"),
        ("Replaced", "Replaced"),
    ):
        page.get_by_role("button", name=button, exact=True).click()
        expect(page.locator("#return-status")).to_have_text(shown)
    row.refresh_from_db()
    assert row.status == "replaced" and row.order_line_id == line.pk and row.quantity == 1
    expect(page.get_by_role("heading", name="Next step")).to_have_count(0)
    screenshot(page, "return-done", full_page=True)

    page.goto(f"/returns/new/?order_line={line.pk}")
    page.wait_for_load_state("load")
    shots_at_both_sizes(page, screenshot, "return-new")
    assert page.errors == []
