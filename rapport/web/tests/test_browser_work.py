"""Browser journeys through the daily work pages in Chromium: my tasks, the calendar,
orders, and an administrator's settings — with htmx in the loop, at desktop and phone
width (screenshots under screenshots/ for reviewers)."""

import datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from rapport.accounts.services import account_create, contact_create
from rapport.activities.models import Activity
from rapport.activities.services import activity_log
from rapport.conftest import shots_at_both_sizes
from rapport.identity.models import Role
from rapport.identity.services import team_create, user_create
from rapport.orders.models import Order
from rapport.records.models import CustomFieldDefinition
from rapport.sales.services import product_create

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("migration_data_restored"),
]


PASSWORD = "browser-Pass-2024"


@pytest.fixture
def people(transactional_db):
    team = team_create(name="Field")
    rep = user_create(
        username="rita",
        first_name="Rita",
        last_name="Rep",
        password=PASSWORD,
        team=team,
        validate=False,
    )
    admin = user_create(
        username="ada", first_name="Ada", last_name="Admin", role=Role.ADMIN, validate=False
    )
    manager = user_create(
        username="max", first_name="Max", last_name="Manager", role=Role.MANAGER, team=team
    )
    return {"rep": rep, "admin": admin, "manager": manager, "team": team}


@pytest.fixture
def work(people):
    """A rep's day: an account with a contact, tasks due at different times, meetings."""
    rep = people["rep"]
    account = account_create(actor=rep, fields={"name": "Northwind Traders", "currency": "EUR"})
    contact = contact_create(
        actor=rep, fields={"first_name": "Nora", "last_name": "Lindqvist", "account": account}
    )
    now = timezone.localtime()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def task(subject, due, **links):
        activity_log(
            actor=rep, kind="task", fields={"subject": subject, "due_at": due}, links=links
        )

    task("Send the signed contract", now - datetime.timedelta(days=2), account_id=account.pk)
    task(
        "Call Nora back about pricing", now + datetime.timedelta(minutes=30), contact_id=contact.pk
    )
    task("Prepare the quarterly review", now + datetime.timedelta(days=3), account_id=account.pk)
    task("Renew my certification", now + datetime.timedelta(days=9))
    for days, hour, subject in (
        (0, 15, "Pricing workshop"),
        (1, 10, "Site visit in Hamburg"),
        (2, 9, "Quarterly review"),
        (-1, 14, "Kick-off call"),
        (7, 11, "Contract signing"),  # same weekday next week: in the next week on any day
    ):
        start = today + datetime.timedelta(days=days, hours=hour)
        activity_log(
            actor=rep,
            kind="meeting",
            fields={
                "subject": subject,
                "starts_at": start,
                "ends_at": start + datetime.timedelta(hours=1),
                "location": "Hamburg office",
            },
            links={"account_id": account.pk},
        )
    product_create(
        actor=people["manager"],
        fields={"sku": "NW-SEAT", "name": "Seat licence", "unit_price": Decimal("49.00")},
    )
    return {"account": account, "contact": contact}


def _context(browser, live_server, width=1440, height=900):
    context = browser.new_context(
        viewport={"width": width, "height": height}, base_url=live_server.url
    )
    context.set_default_timeout(20_000)
    return context


@pytest.fixture
def page(browser, live_server):
    context = _context(browser, live_server)
    tab = context.new_page()
    tab.dialogs = []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    yield tab
    context.close()


def _sign_in_with_cookie(page, user, live_server):
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def test_my_tasks_calendar_and_an_order_with_two_lines(page, people, work, live_server, screenshot):
    page.goto("/activities/")
    assert "/login/" in page.url
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/activities/")
    page.wait_for_selector("h1:has-text('My tasks')")
    overdue = page.locator("#tasks-overdue").locator("xpath=ancestor::section")
    assert "Send the signed contract" in overdue.inner_text()
    shots_at_both_sizes(page, screenshot, "work-tasks")

    # Complete a task in place: htmx swaps the row, the page stays, a toast offers undo.
    page.evaluate("window.__stillHere = true")
    row = page.locator(".task-row", has_text="Call Nora back about pricing")
    row.locator("button.check-button").click()
    page.wait_for_selector(".task-row.task-done:has-text('Call Nora back about pricing')")
    page.wait_for_selector(".toast:has-text('Completed')", state="attached")
    assert page.locator(".toast:has-text('Completed') button:has-text('Undo')").count() == 1
    assert page.evaluate("window.__stillHere") is True
    assert Activity.objects.get(subject="Call Nora back about pricing").done is True
    screenshot(page, "work-task-completed")

    # The calendar: this week's meetings in a grid; previous/next are plain links.
    page.click("nav.section-tabs a:has-text('Calendar')")
    page.wait_for_selector(".hour-calendar")
    today = page.locator(".hour-day.is-today")
    today_column = today.get_attribute("class")  # the grid column of today's meetings
    workshop = page.locator(".hour-item:has-text('Pricing workshop')")
    expect(workshop).to_be_visible()
    column = page.locator(".hour-column.is-today").bounding_box()
    box = workshop.bounding_box()
    assert column["x"] <= box["x"] < column["x"] + column["width"], today_column
    assert page.locator(".hour-item:has-text('Contract signing')").count() == 0
    shots_at_both_sizes(page, screenshot, "work-calendar-week")
    page.click("a[rel='next']")
    page.wait_for_selector(".hour-item:has-text('Contract signing')")
    page.click(".segmented a:has-text('Month')")
    page.wait_for_selector("table.calendar-month")
    page.click("a:has-text('Today')")
    page.wait_for_selector("td.is-today")
    assert "Pricing workshop" in page.locator("td.is-today").inner_text()
    shots_at_both_sizes(page, screenshot, "work-calendar-month")
    page.click("td.is-today a:has-text('Pricing workshop')")
    page.wait_for_selector("h1:has-text('Pricing workshop')")
    shots_at_both_sizes(page, screenshot, "work-activity-page")
    page.click("a:has-text('All activities about Northwind Traders')")
    page.wait_for_selector(".chip:has-text('Account: Northwind Traders')")
    shots_at_both_sizes(page, screenshot, "work-activities-list")

    # An order with two lines: one row added in place; the server computes the total.
    account = work["account"]
    page.goto(f"/orders/new?account={account.pk}")
    page.evaluate("window.__stillHere = true")
    page.select_option("#id_line0-product", label="Seat licence (NW-SEAT)")
    page.fill("#id_line0-quantity", "3")
    page.click("button:has-text('+ Add a line')")
    page.wait_for_selector("#id_line1-description")
    assert page.evaluate("window.__stillHere") is True
    assert page.input_value("#id_line0-quantity") == "3"  # the first row kept its values
    page.fill("#id_line1-description", "Onboarding workshop")
    page.fill("#id_line1-quantity", "1")
    page.fill("#id_line1-unit_price", "250")
    page.select_option("#id_channel", "phone")
    shots_at_both_sizes(page, screenshot, "work-order-form")
    page.click("button:has-text('Create order')")
    page.wait_for_selector("h1:has-text('Order #')")
    order = Order.objects.get()
    assert order.total == Decimal("397.00")
    assert page.locator(".order-total").inner_text() == "397.00 EUR"
    assert page.locator("table.line-items tbody tr").count() == 2
    shots_at_both_sizes(page, screenshot, "work-order-page")

    # The status changes in place.
    page.select_option("#order-status-select", "shipped")
    page.click("#order-status button:has-text('Change')")
    page.wait_for_selector("#order-status .status:has-text('Shipped')")
    order.refresh_from_db()
    assert order.status == "shipped"

    page.goto("/orders/")
    page.wait_for_selector("td.cell-money:has-text('397.00 EUR')")
    shots_at_both_sizes(page, screenshot, "work-orders-list")
    assert page.dialogs == []


def test_admin_adds_a_custom_field_and_sees_it_on_the_account_form(
    page, people, work, live_server, screenshot
):
    _sign_in_with_cookie(page, people["admin"], live_server)
    page.goto("/settings/")
    page.click(".settings-nav a:has-text('Custom fields')")
    page.wait_for_selector("h1:has-text('Custom fields')")
    page.click("summary:has-text('Add a custom field')")
    page.select_option("#id_object_type", "account")
    page.fill("#id_label", "Customer tier")
    page.fill("#id_key", "tier")
    page.select_option("#id_field_type", "choice")
    page.fill("#id_choices", "Gold\nSilver\nBronze")
    page.click("button:has-text('Add field')")
    page.wait_for_selector(".toast:has-text('Custom field Customer tier added')", state="attached")
    assert CustomFieldDefinition.objects.get().key == "tier"
    shots_at_both_sizes(page, screenshot, "settings-custom-fields")

    page.goto("/accounts/new")
    page.wait_for_selector("label:has-text('Customer tier')")
    page.fill("#id_name", "Tiered GmbH")
    page.select_option("#id_cf_tier", "Gold")
    page.click("button:has-text('Create account')")
    page.wait_for_selector("h1:has-text('Tiered GmbH')")

    for name, url in (
        ("settings-users", "/settings/users/"),
        ("settings-roles", "/settings/roles/"),
        ("settings-sharing", "/settings/sharing/"),
        ("settings-pipelines", "/settings/pipelines/"),
        ("settings-teams", "/settings/teams/"),
    ):
        page.goto(url)
        page.wait_for_selector(".settings-main h1")
        shots_at_both_sizes(page, screenshot, name)
    # A pipeline with the usual stages; a stage moves up with a plain form button.
    page.goto("/settings/pipelines/")
    page.click("summary:has-text('Add a pipeline')")
    page.fill("#id_name", "Renewals")
    page.click("button:has-text('Create pipeline')")
    page.wait_for_selector(".stages-table")
    page.click("button:has-text('Move Qualified up')")
    page.wait_for_selector(".stages-table tbody tr:first-child input[value='Qualified']")
    shots_at_both_sizes(page, screenshot, "settings-pipeline")

    # The catalogue: a price book gets a price for the seat licence.
    page.goto("/products/price-books/new")
    page.fill("#id_name", "Partners")
    page.click("button:has-text('Create price book')")
    page.wait_for_selector("h1:has-text('Partners')")
    page.select_option("#id_product", index=1)
    page.fill("#id_unit_price", "39")
    page.click("button:has-text('Add price')")
    page.wait_for_selector(
        "#entries input[value='39.00'], table.entries-table input[value='39.00']"
    )
    shots_at_both_sizes(page, screenshot, "catalog-price-book")
    page.goto("/products/")
    page.wait_for_selector("td a:has-text('Seat licence')")
    shots_at_both_sizes(page, screenshot, "catalog-products")

    # A role changes in place.
    rep = people["rep"]
    page.goto("/settings/roles/")
    page.select_option(f"#role-{rep.pk}-role", "manager")
    page.click(f"#role-{rep.pk} button:has-text('Save')")
    page.wait_for_selector(".toast:has-text('Rita Rep: Manager')", state="attached")
    rep.refresh_from_db()
    assert rep.role == "manager"
    assert page.dialogs == []


def test_work_pages_at_phone_width(browser, people, work, live_server, screenshot):
    context = _context(browser, live_server, width=390, height=844)
    tab = context.new_page()
    try:
        _sign_in_with_cookie(tab, people["rep"], live_server)
        tab.goto("/activities/")
        tab.wait_for_selector(".task-row")
        screenshot(tab, "phone-tasks", full_page=True)
        tab.goto("/activities/calendar/")
        tab.wait_for_selector(".calendar-agenda", state="attached")
        screenshot(tab, "phone-calendar-week", full_page=True)
        tab.goto("/activities/calendar/?view=month")
        tab.wait_for_selector("table.calendar-month")
        width = tab.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width  # no sideways scrolling on a phone
        screenshot(tab, "phone-calendar-month", full_page=True)
        tab.goto(f"/orders/new?account={work['account'].pk}")
        tab.wait_for_selector("#order-lines")
        screenshot(tab, "phone-order-form", full_page=True)
        _sign_in_with_cookie(tab, people["manager"], live_server)
        tab.goto("/settings/users/")
        tab.wait_for_selector(".settings-main h1")
        screenshot(tab, "phone-settings-users", full_page=True)
    finally:
        context.close()


def test_meeting_form_links_records_with_the_keyboard_pickers(
    page, people, work, live_server, screenshot
):
    _sign_in_with_cookie(page, people["rep"], live_server)
    page.goto("/activities/new?kind=meeting")
    page.fill("#id_subject", "Roadmap review")
    page.fill("#id_starts_at", "2030-05-14T10:00")
    # Account: type, arrow down onto the suggestion, Enter picks it.
    page.locator("#id_account").press_sequentially("northw", delay=30)
    option = page.locator("#id_account_options [data-pick-id]")
    option.first.wait_for()
    assert page.locator("#id_account").get_attribute("aria-expanded") == "true"
    screenshot(page, "picker-suggestions")
    page.locator("#id_account").press("ArrowDown")
    page.keyboard.press("Enter")
    assert page.locator("#id_account").input_value() == "Northwind Traders"
    assert page.locator("input[name=account]").input_value() == str(work["account"].pk)
    # Attendees: Enter in the box takes the first suggestion as a chip.
    page.locator("#id_attendee_contacts").press_sequentially("nora", delay=30)
    page.locator("#id_attendee_contacts_options [data-pick-id]").first.wait_for()
    page.locator("#id_attendee_contacts").press("Enter")
    page.wait_for_selector(".picker-chip:has-text('Nora Lindqvist')")
    assert page.locator("#id_attendee_contacts").input_value() == ""
    screenshot(page, "picker-chosen")
    page.click("button:has-text('Create meeting')")
    page.wait_for_selector("h1:has-text('Roadmap review')")
    meeting = Activity.objects.get(subject="Roadmap review")
    assert meeting.account_id == work["account"].pk
    assert list(meeting.attendee_contacts.values_list("pk", flat=True)) == [work["contact"].pk]
