"""Browser journeys of the home dashboard, the header's search typeahead and the Access
panel, and the journey of issue 3: sign in → account and contact → a call → a lead →
converted into an opportunity → dragged to Won on the board → on the timeline and the
dashboard's chart → found by the search → invisible to another team."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from rapport.accounts.services import account_create, contact_create
from rapport.activities.services import activity_log
from rapport.conftest import PHONE_SIZE, shots_at_both_sizes
from rapport.identity.services import team_create, user_create
from rapport.records.models import RecordShare
from rapport.sales.models import Opportunity, Pipeline, Stage
from rapport.sales.services import opportunity_create, opportunity_move_stage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "journey-Pass-2024"


@pytest.fixture
def team(transactional_db):
    return team_create(name="Field")


@pytest.fixture
def rep(team):
    return user_create(
        username="rita",
        first_name="Rita",
        last_name="Rep",
        password=PASSWORD,
        team=team,
        validate=False,
    )


@pytest.fixture
def colleague(team):
    return user_create(
        username="colin", first_name="Colin", last_name="Colleague", team=team, validate=False
    )


@pytest.fixture
def outsider(transactional_db):
    other = team_create(name="Elsewhere")
    return user_create(
        username="otto",
        first_name="Otto",
        last_name="Outsider",
        password=PASSWORD,
        team=other,
        validate=False,
    )


@pytest.fixture
def stages(transactional_db) -> dict:
    """The default pipeline's stages by name. Transactional tests flush the database, so the
    pipeline the data migration made may be gone: make it again then."""
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is None:
        pipeline = Pipeline.objects.create(name="Sales", is_default=True)
        Stage.objects.bulk_create(
            Stage(pipeline=pipeline, name=name, position=i, probability=probability, kind=kind)
            for i, (name, probability, kind) in enumerate(
                [
                    ("Prospecting", 10, "open"),
                    ("Qualification", 20, "open"),
                    ("Proposal", 50, "open"),
                    ("Negotiation", 75, "open"),
                    ("Closed Won", 100, "won"),
                    ("Closed Lost", 0, "lost"),
                ],
                start=1,
            )
        )
    return {s.name: s for s in pipeline.stages.all()}


def _context(browser, live_server, viewport=None):
    context = browser.new_context(
        viewport=viewport or {"width": 1440, "height": 900}, base_url=live_server.url
    )
    context.set_default_timeout(20_000)
    return context


def _tab(context):
    tab = context.new_page()
    tab.dialogs = []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    tab.errors = []
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    return tab


@pytest.fixture
def page(browser, live_server):
    context = _context(browser, live_server)
    yield _tab(context)
    context.close()


def _sign_in_with_cookie(page, user, live_server):
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def _seed_dashboard(rep, stages):
    account = account_create(actor=rep, fields={"name": "Northwind Traders"})
    now = timezone.now()
    for name, amount, stage in (
        ("Fleet renewal", "12000", "Prospecting"),
        ("Warehouse sensors", "30000", "Qualification"),
        ("Cold chain pilot", "18000", "Proposal"),
        ("Route planning", "9500", "Proposal"),
        ("Depot expansion", "42000", "Negotiation"),
    ):
        opportunity_create(
            actor=rep,
            fields={
                "name": name,
                "account": account,
                "amount": Decimal(amount),
                "stage": stages[stage],
            },
        )
    for months_ago, amount in ((0, "8000"), (1, "15000"), (3, "22000"), (5, "6000"), (8, "31000")):
        opp = opportunity_create(
            actor=rep,
            fields={
                "name": f"Won deal {months_ago}",
                "amount": Decimal(amount),
                "account": account,
            },
        )
        with time_machine.travel(now - datetime.timedelta(days=30 * months_ago), tick=False):
            opportunity_move_stage(opportunity=opp, stage=stages["Closed Won"], actor=rep)
    for subject, due in (
        ("Send the Northwind quote", now - datetime.timedelta(days=2)),
        ("Call back about the pilot", now + datetime.timedelta(minutes=30)),
        ("Prepare quarterly review", now + datetime.timedelta(days=3)),
    ):
        activity_log(
            actor=rep,
            kind="task",
            fields={"subject": subject, "due_at": due},
            links={"account_id": account.pk},
        )
    return account


def test_dashboard_draws_its_charts_and_completes_a_task_in_place(
    browser, live_server, rep, stages, screenshot
):
    _seed_dashboard(rep, stages)
    context = _context(browser, live_server)
    page = _tab(context)
    _sign_in_with_cookie(page, rep, live_server)
    page.goto("/")
    # The charts are drawn from the embedded JSON (Chart.js is vendored, no CDN).
    page.wait_for_selector('[data-chart="pipeline"]:not([hidden]) canvas')
    page.wait_for_selector('[data-chart="won"]:not([hidden]) canvas')
    assert page.evaluate("Object.keys(Chart.instances).length") == 2
    labels = page.evaluate("Chart.getChart('chart-pipeline').data.labels")
    assert labels == ["Prospecting", "Qualification", "Proposal", "Negotiation"]
    won = page.evaluate("Chart.getChart('chart-won').data.datasets[0].data")
    assert len(won) == 12 and won[-1] == 8000
    assert page.evaluate("Chart.getChart('chart-won').options.scales.y.title.text") == (
        "Amount (EUR)"
    )
    # Tooltips: hovering a bar shows the stage's amount and count.
    box = page.locator("#chart-pipeline").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.62, box["y"] + box["height"] * 0.6)
    page.wait_for_function("Chart.getChart('chart-pipeline').tooltip.opacity > 0")
    # The data tables stay under the charts.
    assert page.locator("#table-pipeline tbody tr").count() == 4
    shots_at_both_sizes(page, screenshot, "home-dashboard")

    page.evaluate("window.__stillHere = true")
    due_before = int(page.inner_text("#stat-tasks .stat-value").rstrip("+"))
    overdue = page.locator(".dash-task:has-text('Send the Northwind quote')")
    overdue.locator("button.dash-task-check").click()
    page.wait_for_selector(".dash-task.dash-task-done:has-text('Send the Northwind quote')")
    page.wait_for_selector(".toast:has-text('completed')", state="attached")
    # The count at the top follows in place (tasks-changed).
    page.wait_for_selector(f"#stat-tasks .stat-value:text-is('{due_before - 1}')")
    assert page.evaluate("window.__stillHere") is True
    # Undo is the same button.
    page.locator(".dash-task.dash-task-done button.dash-task-check").click()
    page.wait_for_selector(".dash-task:not(.dash-task-done):has-text('Send the Northwind quote')")
    page.wait_for_selector(f"#stat-tasks .stat-value:text-is('{due_before}')")

    # Loaded on a phone (not resized to one), the charts are drawn too.
    page.set_viewport_size(PHONE_SIZE)
    page.goto("/")
    page.wait_for_selector('[data-chart="won"]:not([hidden]) canvas')
    assert page.dialogs == [] and page.errors == []
    context.close()


def test_search_typeahead_by_keyboard(page, live_server, rep, outsider, screenshot):
    account = account_create(actor=rep, fields={"name": "Northwind Traders", "city": "Hamburg"})
    contact_create(
        actor=rep,
        fields={"first_name": "Nora", "last_name": "North", "account": account},
        emails=[{"email": "nora@northwind.example", "is_primary": True}],
    )
    account_create(actor=outsider, fields={"name": "Northern Secrets"})
    _sign_in_with_cookie(page, rep, live_server)
    page.goto("/accounts/")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "global-search"
    # Typing inside expect_response: the box asks after each 200 ms pause, and on a loaded
    # machine an answer for "nor" could otherwise arrive after the arrow keys below and
    # reset the highlighted suggestion.
    with page.expect_response(lambda r: "/search/suggest" in r.url and "north" in r.url):
        page.keyboard.type("north")
    page.wait_for_selector("#search-suggestions:not([hidden]) .suggest-option")
    assert page.get_attribute("#global-search", "aria-expanded") == "true"
    expect(page.locator("#search-suggestions .suggest-title")).to_have_text(
        ["Northwind Traders", "Nora North"], use_inner_text=True
    )
    expect(page.locator("#search-suggestions")).not_to_contain_text("Northern Secrets")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    active = page.get_attribute("#global-search", "aria-activedescendant")
    assert active and active.startswith("suggest-contact-")
    assert page.get_attribute(f"#{active}", "aria-selected") == "true"
    screenshot(page, "search-dropdown")
    page.keyboard.press("Escape")
    expect(page.locator("#search-suggestions")).to_be_hidden()
    expect(page.locator("#global-search")).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("ArrowDown")  # opens again on the first hit
    page.wait_for_selector("#search-suggestions:not([hidden])")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Northwind Traders')")
    assert page.url.endswith(f"/accounts/{account.pk}/")
    # The h1 is there before the deferred scripts have run: keys typed before htmx has
    # bound the box would start no request (as for a person typing in the first
    # milliseconds, whose Enter then submits the form). Wait for the page's load.
    page.wait_for_load_state("load")
    # Enter without a highlighted hit: the full results page.
    page.click("#global-search")
    with page.expect_response(lambda r: "/search/suggest" in r.url and "nora" in r.url):
        page.keyboard.type("nora")
    page.wait_for_selector("#search-suggestions:not([hidden]) .suggest-option")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Results for')")
    expect(page.locator(".card a:has-text('Nora North')")).to_be_visible()
    assert page.dialogs == [] and page.errors == []


def test_access_panel_shares_and_unshares_in_place(
    page, live_server, rep, colleague, outsider, screenshot
):
    account = account_create(actor=rep, fields={"name": "Northwind Traders"})
    _sign_in_with_cookie(page, rep, live_server)
    page.goto(f"/accounts/{account.pk}/")
    page.evaluate("window.__stillHere = true")
    page.click(".record-actions a:has-text('Share')")
    page.wait_for_selector("#record-access form.access-form")
    # Focus moves to the first field once htmx has settled the swapped-in panel.
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.id === 'share-target'"
    )
    page.select_option("#share-target", label="Colin Colleague")
    page.select_option("#share-access", "edit")
    page.click("#record-access button:text-is('Share')")
    page.wait_for_selector("#record-access .share:has-text('Colin Colleague')")
    page.wait_for_selector("#timeline-list .event-summary:has-text('Shared with colin')")
    page.select_option("#share-target", label="Elsewhere")
    page.click("#record-access button:text-is('Share')")
    page.wait_for_selector("#record-access .share:has-text('Team Elsewhere')")
    assert RecordShare.objects.count() == 2
    page.locator("#record-access").scroll_into_view_if_needed()
    screenshot(page, "shares-panel")
    page.click("#record-access .share:has-text('Team Elsewhere') button:has-text('Remove')")
    page.wait_for_selector("#record-access .share:has-text('Team Elsewhere')", state="detached")
    assert RecordShare.objects.count() == 1
    # Transfer from the header: the panel opens on the new-owner field.
    page.click(".record-actions a:has-text('Transfer owner')")
    page.wait_for_selector("#transfer-new_owner:focus")
    page.click("#record-access a:has-text('Done')")
    page.wait_for_selector("#record-access form.access-form", state="detached")
    assert page.evaluate("window.__stillHere") is True
    page.goto(f"/records/account/{account.pk}/access?manage=1")
    shots_at_both_sizes(page, screenshot, "shares-page")
    assert page.dialogs == [] and page.errors == []


def _drag(page, source, target):
    """Drag with the mouse, in small steps (SortableJS runs on pointer events here)."""
    start = source.bounding_box()
    end = target.bounding_box()
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 8, y + 8, steps=4)
    to_x, to_y = end["x"] + end["width"] / 2, end["y"] + min(40, end["height"] / 2)
    page.mouse.move(to_x, to_y, steps=20)
    # SortableJS has taken the card into the target list (its placeholder is there).
    expect(target.locator(".board-card-ghost")).to_be_attached()
    page.mouse.move(to_x + 2, to_y + 2, steps=2)
    page.mouse.up()


def test_journey_from_first_call_to_won_deal_seen_by_nobody_else(
    browser, live_server, rep, outsider, stages, screenshot
):
    context = _context(browser, live_server)
    page = _tab(context)

    # Sign in.
    page.goto("/")
    assert "/login/" in page.url
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("h1:has-text('Good to see you, Rita')")

    # An account and a contact.
    page.click(".page-actions a:has-text('New account')")
    page.fill("#id_name", "Fjord Freight")
    page.fill("#id_city", "Bergen")
    page.click("button:has-text('Create account')")
    page.wait_for_selector("h1:has-text('Fjord Freight')")
    page.click("a:has-text('Add contact')")
    page.fill("#id_first_name", "Ingrid")
    page.fill("#id_last_name", "Haugen")
    page.fill("#id_email", "ingrid@fjordfreight.example")
    page.click("button:has-text('Create contact')")
    page.wait_for_selector("h1:has-text('Ingrid Haugen')")

    # A call, logged in place on the contact's page.
    page.evaluate("window.__stillHere = true")
    page.fill("#id_subject", "Intro call")
    page.select_option("#id_outcome", "connected")
    page.fill("#id_body", "Runs 40 trucks, wants a fleet deal")
    page.click("button:has-text('Log call')")
    page.wait_for_selector("#timeline-list .event-summary:has-text('Call: Intro call')")
    assert page.evaluate("window.__stillHere") is True

    # A lead, converted into an account, a contact and an opportunity.
    page.goto("/leads/new")
    page.fill("#id_first_name", "Lars")
    page.fill("#id_last_name", "Berg")
    page.fill("#id_company", "Berg Logistics")
    page.fill("#id_email", "lars@berglogistics.example")
    page.click("button:has-text('Create lead')")
    page.wait_for_selector("h1:has-text('Lars Berg')")
    page.click(".record-actions a:has-text('Convert')")
    page.wait_for_selector("#convert-dialog[open]")
    page.check("#id_create_opportunity")
    page.fill("#id_opportunity_name", "Berg fleet deal")
    page.fill("#id_amount", "48000")
    page.click("#convert-dialog button:has-text('Convert')")
    page.wait_for_selector(".conversion-card a:has-text('Berg fleet deal')")
    deal = Opportunity.objects.get(name="Berg fleet deal")
    assert deal.stage.kind == "open"

    # Across the board to Won, by dragging the card.
    page.goto("/opportunities/board")
    card = page.locator(f"#card-{deal.pk}")
    card.wait_for()
    won_list = page.locator('.board-cards[data-stage-kind="won"]')
    _drag(page, card.locator(".board-card-amount"), won_list)
    page.wait_for_selector(f'.board-cards[data-stage-kind="won"] #card-{deal.pk}')
    page.wait_for_selector(".toast", state="attached")
    deal.refresh_from_db()
    assert deal.stage == stages["Closed Won"] and deal.closed_at is not None
    screenshot(page, "journey-board-won")

    # On the opportunity's timeline.
    page.click(f"#card-{deal.pk} .board-card-title")
    page.wait_for_selector("h1:has-text('Berg fleet deal')")
    page.wait_for_selector("#timeline-list .event-summary:has-text('to Closed Won')")

    # On the dashboard's chart: this month's won revenue is the deal.
    page.goto("/")
    page.wait_for_selector('[data-chart="won"]:not([hidden]) canvas')
    won = page.evaluate("Chart.getChart('chart-won').data.datasets[0].data")
    assert won[-1] == 48000
    this_month = page.locator("#table-won tbody tr").last
    assert "48,000.00" in this_month.inner_text()
    assert "Berg fleet deal" in page.inner_text(".event-feed")

    # The global search finds it.
    page.keyboard.press("/")
    page.keyboard.type("berg fleet")
    page.wait_for_selector("#search-suggestions:not([hidden]) .suggest-option")
    expect(page.locator("#search-suggestions")).to_contain_text("Berg fleet deal")
    screenshot(page, "journey-search")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Berg fleet deal')")
    assert page.dialogs == [] and page.errors == []
    context.close()

    # Someone of another team sees it nowhere and gets 404 on its URL.
    other = _tab(_context(browser, live_server))
    other.goto("/login/")
    other.fill("#id_username", "otto")
    other.fill("#id_password", PASSWORD)
    other.click("button:has-text('Sign in')")
    other.wait_for_selector("h1:has-text('Good to see you, Otto')")
    for url in (
        "/opportunities/",
        "/opportunities/board",
        "/leads/",
        "/accounts/",
        "/contacts/",
        "/search?q=berg",
        "/search?q=fjord",
        "/",
    ):
        other.goto(url)
        text = other.inner_text("main")
        for name in ("Berg fleet deal", "Lars Berg", "Fjord Freight", "Ingrid Haugen"):
            assert name not in text, (url, name)
    other.click("#global-search")
    other.keyboard.type("berg")
    other.wait_for_selector("#search-suggestions .suggest-empty", state="attached")
    assert "Berg fleet deal" not in other.inner_text("#search-suggestions")
    for url in (f"/opportunities/{deal.pk}/", f"/records/opportunity/{deal.pk}/access"):
        response = other.goto(url)
        assert response.status == 404, url
    assert other.dialogs == [] and other.errors == []
    other.context.close()
