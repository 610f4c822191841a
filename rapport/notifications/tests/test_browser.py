"""Browser journey: a reminder arrives, the bell counts it, the list marks it read and the
bell follows — at desktop and phone width, with no script errors (CSP)."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from rapport.accounts.services import account_create
from rapport.activities.services import activity_log
from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.notifications.reminders import reminders_send_due
from rapport.notifications.services import notify

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("migration_data_restored"),
]


def test_bell_list_and_marking_read(page, personas, screenshot):
    owner = personas.owner
    account = account_create(actor=owner, fields={"name": "Acme Rockets"})
    due = timezone.now() + datetime.timedelta(hours=1)
    activity_log(
        actor=owner,
        kind="task",
        fields={"subject": "Send the quote", "due_at": due, "reminder_minutes": 60},
        links={"account_id": account.pk},
    )
    assert reminders_send_due() == 1  # an hour before due, with a one-hour reminder: now
    notify(owner, "import_finished", title="Import of contacts.csv finished", link="/imports/")
    sign_in(page, owner)
    page.goto("/")
    bell = page.locator("#notification-bell")
    assert bell.get_attribute("aria-label") == "Notifications: 2 unread"
    assert bell.locator(".bell-count").inner_text() == "2"
    screenshot(page, "notifications-bell")
    bell.click()
    page.wait_for_url("**/notifications/")
    items = page.locator(".notification")
    assert items.count() == 2
    assert "Send the quote" in page.content()
    screenshot(page, "notifications-list", full_page=True)
    # The newest (the import) first; mark it read in place.
    first = page.locator(".notification-unread").first
    assert "Import of contacts.csv" in first.inner_text()
    first.get_by_role("button", name="Mark read").click()
    expect(page.locator("#notification-bell")).to_have_attribute(
        "aria-label", "Notifications: 1 unread"
    )
    assert page.locator(".notification-unread").count() == 1
    # Following the reminder opens the task and marks it read.
    page.get_by_role("link", name="Send the quote").click()
    page.wait_for_load_state()
    assert "/activities/" in page.url
    assert page.locator("#notification-bell .bell-count").count() == 0
    page.goto("/notifications/")
    shots_at_both_sizes(page, screenshot, "notifications-list")
    page.goto("/notifications/settings")
    shots_at_both_sizes(page, screenshot, "notifications-settings")
    # @mention suggestions in a note's body: type, choose with Enter.
    page.goto("/activities/new?kind=note")
    body = page.locator("#id_body")
    body.click()
    body.press_sequentially("Ask @tea")
    expect(page.locator(".mention-option").first).to_contain_text("@teammate")
    body.press("Enter")
    assert body.input_value() == "Ask @teammate "
    screenshot(page, "notifications-mention-suggest")
    assert page.errors == []
