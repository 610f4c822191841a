"""Browser journey: an administrator subscribes a receiver, copies the secret, sends a test
and resends it from the delivery log (the immediate task backend sends on commit)."""

import pytest

from rapport.conftest import shots_at_both_sizes, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_subscribes_sends_a_test_and_resends(page, personas, receiver, settings, screenshot):
    settings.RAPPORT_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    page.context.set_default_timeout(60_000)  # a loaded CI machine
    sign_in(page, personas.admin)
    page.goto("/settings/webhooks/")
    page.get_by_text("Add a subscription").click()
    page.get_by_label("Name").fill("ERP")
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Event types").fill("contact.*, order.placed")
    page.get_by_role("button", name="Add subscription").click()
    secret = page.locator(".secret-value").inner_text()
    assert secret.startswith("whsec_")
    receiver.verify_with = secret
    screenshot(page, "webhooks-created")
    page.get_by_role("button", name="Send test").click()
    page.get_by_text("Test event queued").wait_for()
    assert page.locator(".secret-value").count() == 0  # shown once
    page.reload()
    row = page.locator("table tbody tr").first
    assert "Delivered" in row.inner_text()
    row.get_by_role("link").click()
    page.get_by_role("heading", name="Log").wait_for()
    assert "200" in page.locator("table").inner_text()
    page.get_by_role("button", name="Resend").click()
    page.get_by_text("Queued to be sent again").wait_for()
    assert len(receiver.requests) == 2 and all("verified" in r for r in receiver.requests)
    screenshot(page, "webhooks-delivery")
    page.goto("/settings/webhooks/")
    shots_at_both_sizes(page, screenshot, "webhooks-list")
    assert page.errors == []
