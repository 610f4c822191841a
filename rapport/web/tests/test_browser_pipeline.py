"""Browser journeys of the sales pages in Chromium: a lead becomes an opportunity through
the conversion dialog, and the opportunity is dragged across the pipeline board to Won; a
card is moved with the keyboard alone, to a lost stage (the reason is asked for)."""

from decimal import Decimal

import pytest
from django.test import Client
from playwright.sync_api import expect

from rapport.conftest import shots_at_both_sizes
from rapport.identity.models import Role
from rapport.identity.services import team_create, user_create
from rapport.leads.models import Lead, LeadStatus
from rapport.sales.models import Opportunity, Pipeline, Stage, StageKind
from rapport.sales.services import opportunity_create, product_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-Pass-2024"


@pytest.fixture
def rep(transactional_db):
    team = team_create(name="Field")
    return user_create(
        username="rita",
        first_name="Rita",
        last_name="Rep",
        password=PASSWORD,
        team=team,
        validate=False,
    )


@pytest.fixture
def stages(transactional_db) -> dict:
    """A default pipeline of our own (transactional tests flush the migration's data)."""
    Pipeline.objects.update(is_default=False)
    pipeline = Pipeline.objects.create(name="New business", is_default=True)
    rows = [
        ("Discovery", 10, StageKind.OPEN),
        ("Proposal", 50, StageKind.OPEN),
        ("Negotiation", 80, StageKind.OPEN),
        ("Won", 100, StageKind.WON),
        ("Lost", 0, StageKind.LOST),
    ]
    return {
        name: Stage.objects.create(
            pipeline=pipeline, name=name, position=i, probability=p, kind=kind
        )
        for i, (name, p, kind) in enumerate(rows, start=1)
    }


def _page(browser, live_server, width=1440, height=900):
    context = browser.new_context(
        viewport={"width": width, "height": height}, base_url=live_server.url
    )
    context.set_default_timeout(20_000)
    tab = context.new_page()
    tab.dialogs = []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    return tab


@pytest.fixture
def page(browser, live_server):
    tab = _page(browser, live_server)
    yield tab
    tab.context.close()


def _sign_in_with_cookie(page, user, live_server):
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def _drag(page, source, target):
    """A real drag with the mouse: press on the card, move in steps, release over the target."""
    source.scroll_into_view_if_needed()
    box = source.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 12)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 8, box["y"] + 20, steps=4)
    target.scroll_into_view_if_needed()
    end = target.bounding_box()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 30, steps=12)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 40, steps=4)
    page.mouse.up()


def test_lead_to_won_by_dragging_on_the_board(page, rep, stages, live_server, screenshot):
    manager = user_create(username="mona", role=Role.MANAGER, password=PASSWORD, validate=False)
    page.goto("/leads/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/leads/")

    # Create a lead.
    page.click("a:has-text('New lead')")
    page.fill("#id_first_name", "Grace")
    page.fill("#id_last_name", "Hopper")
    page.fill("#id_company", "Compiler Co")
    page.fill("#id_email", "grace@compiler.example")
    page.fill("#id_source", "event")
    page.click("button:has-text('Create lead')")
    page.wait_for_selector("h1:has-text('Grace Hopper')")
    lead = Lead.objects.get()
    shots_at_both_sizes(page, screenshot, "lead-page")

    # Convert it through the dialog, with an opportunity.
    page.evaluate("window.__stillHere = true")
    page.click(".record-actions a:has-text('Convert')")
    dialog = page.locator("dialog#convert-dialog")
    dialog.wait_for(state="visible")
    assert page.evaluate("window.__stillHere") is True  # a dialog, not a page load
    assert page.evaluate("document.querySelector('#convert-dialog').matches(':modal')")
    assert dialog.locator("#id_account_0").is_checked()  # create the account, by default
    assert "Compiler Co" in dialog.locator("label[for=id_account_0]").inner_text()
    expect(dialog.locator("#id_amount")).to_be_hidden()  # until "Create an opportunity"
    dialog.locator("#id_create_opportunity").check()
    dialog.locator("#id_opportunity_name").fill("Compiler Co compilers")
    dialog.locator("#id_amount").fill("5000")
    dialog.locator("#id_expected_close_date").fill("2031-05-01")
    screenshot(page, "lead-convert-dialog")
    dialog.locator("button:has-text('Convert')").click()
    page.wait_for_selector(".conversion-card a:has-text('Compiler Co compilers')")
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED
    opportunity = Opportunity.objects.get()
    assert opportunity.stage == stages["Discovery"]
    assert page.locator(".conversion-card a:has-text('Compiler Co')").count() >= 2

    page.goto("/leads/")
    page.wait_for_selector("td a:has-text('Grace Hopper')")
    shots_at_both_sizes(page, screenshot, "leads-list")

    # Products on the opportunity: added in place, the amount follows.
    product_create(
        actor=manager,
        fields={"sku": "CC-1", "name": "Compiler licence", "unit_price": Decimal("2500")},
    )
    page.goto(f"/opportunities/{opportunity.pk}/")
    page.wait_for_selector("h1:has-text('Compiler Co compilers')")
    page.evaluate("window.__stillHere = true")
    page.select_option("#line-item-product", label="Compiler licence (CC-1)")
    page.fill("#line-item-quantity", "2")
    page.click("button:has-text('Add product')")
    page.wait_for_selector("#line-items td:has-text('Compiler licence')")
    assert page.evaluate("window.__stillHere") is True
    assert "5,000.00 EUR" in page.locator("#line-items tfoot").inner_text()
    shots_at_both_sizes(page, screenshot, "opportunity-page")
    page.click("#line-items a:has-text('Edit')")
    page.wait_for_selector("#line-items tr.line-item-editing input[name=quantity]")
    screenshot(page, "opportunity-line-item-edit")
    page.click("#line-items a:has-text('Cancel')")
    page.wait_for_selector("#line-items a:has-text('Edit')")

    # Drag the card from Discovery to Won.
    page.goto("/opportunities/board")
    won = stages["Won"]
    card = page.locator(f"#card-{opportunity.pk}")
    card.wait_for()
    assert page.locator(f"#column-{stages['Discovery'].pk} #card-{opportunity.pk}").count() == 1
    page.evaluate("window.__stillHere = true")
    _drag(page, card, page.locator(f"#column-{won.pk} .board-cards"))
    page.wait_for_selector(f"#column-{won.pk} #card-{opportunity.pk}")
    page.wait_for_selector(".toast:has-text('moved to Won')", state="attached")
    assert page.evaluate("window.__stillHere") is True  # swapped in place
    won_column = page.locator(f"#column-{won.pk}")
    assert won_column.locator("[data-count]").inner_text() == "1"
    assert won_column.locator("[data-total]").inner_text().strip() == "5,000.00 EUR"
    discovery = page.locator(f"#column-{stages['Discovery'].pk}")
    assert discovery.locator("[data-count]").inner_text() == "0"
    opportunity.refresh_from_db()
    assert opportunity.stage == won
    shots_at_both_sizes(page, screenshot, "board")

    # The opportunity's timeline shows the move.
    page.click(f"#card-{opportunity.pk} .board-card-title")
    page.wait_for_selector("h1:has-text('Compiler Co compilers')")
    page.wait_for_selector(
        "#timeline-list .event-summary:has-text('Stage moved from Discovery to Won')"
    )
    assert page.dialogs == []


def test_keyboard_moves_a_card_and_a_lost_stage_asks_why(
    page, rep, stages, live_server, screenshot
):
    first = opportunity_create(
        actor=rep, fields={"name": "Keyboard deal", "amount": Decimal("1200")}
    )
    second = opportunity_create(actor=rep, fields={"name": "Doomed deal", "amount": Decimal("800")})
    _sign_in_with_cookie(page, rep, live_server)
    page.goto("/opportunities/board")

    # "Move to…" with the keyboard only: focus, open (the form is fetched into the card and
    # takes the focus), choose, submit.
    page.locator(f"#card-{first.pk} .board-move-link").focus()
    page.keyboard.press("Enter")
    select = page.locator(f"#move-{first.pk}")
    select.wait_for()
    assert page.evaluate("document.activeElement.id") == f"move-{first.pk}"
    select.select_option(label="Proposal")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#column-{stages['Proposal'].pk} #card-{first.pk}")
    # Focus follows the moved card into its new column.
    assert page.evaluate("document.activeElement.closest('.board-card')?.id") == f"card-{first.pk}"
    proposal = page.locator(f"#column-{stages['Proposal'].pk}")
    assert proposal.locator("[data-weighted]").inner_text().strip() == "600.00 EUR"

    # To a lost stage: the reason is asked first; cancelling moves nothing.
    page.locator(f"#card-{second.pk} .board-move-link").focus()
    page.keyboard.press("Enter")
    page.locator(f"#move-{second.pk}").select_option(label="Lost")
    page.locator(f"#card-{second.pk} button:has-text('Move')").press("Enter")
    dialog = page.locator("#lost-dialog")
    dialog.wait_for(state="visible")
    assert "Doomed deal" in dialog.inner_text()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    second.refresh_from_db()
    assert second.stage == stages["Discovery"]

    # The card's form stays open: try again.
    page.locator(f"#move-{second.pk}").select_option(label="Lost")
    page.locator(f"#card-{second.pk} button:has-text('Move')").press("Enter")
    dialog.wait_for(state="visible")
    page.keyboard.type("Chose a cheaper vendor")
    screenshot(page, "board-lost-reason")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#column-{stages['Lost'].pk} #card-{second.pk}")
    second.refresh_from_db()
    assert second.stage == stages["Lost"]
    assert second.lost_reason == "Chose a cheaper vendor"
    assert page.dialogs == []


def test_board_with_many_cards_fits_the_window_loads_more_and_drags_a_loaded_card(
    page, rep, stages, live_server, screenshot
):
    """Issue 9 item 6: 200 opportunities made a 9,085 px tall, 1,491 px wide document that
    scrolled to a blank page and pushed the sidebar away."""
    for i in range(27):
        opportunity_create(
            actor=rep,
            fields={"name": f"Bulk deal {i:02d}", "amount": Decimal(10_000 - i)},
        )
    for stage in ("Proposal", "Negotiation", "Won"):
        for i in range(22):
            opportunity_create(
                actor=rep,
                fields={
                    "name": f"{stage} deal {i}",
                    "amount": Decimal(500),
                    "stage": stages[stage],
                },
            )
    _sign_in_with_cookie(page, rep, live_server)
    page.goto("/opportunities/board")
    discovery = page.locator(f"#cards-{stages['Discovery'].pk}")
    assert discovery.locator(".board-card").count() == 20
    size = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert size[0] <= 1440 and size[1] <= 900 + 40, size  # the board scrolls, not the page
    page.mouse.wheel(0, 4000)
    page.evaluate("window.scrollTo(0, 4000)")
    sidebar = page.locator(".sidebar").bounding_box()
    assert sidebar["y"] <= 0 + 1 and sidebar["y"] + sidebar["height"] >= 900 - 1, sidebar
    expect(page.locator(".board-card").first).to_be_visible()
    screenshot(page, "board-many-scrolled")

    more = page.locator(f"#more-{stages['Discovery'].pk} a")
    more.click()
    # expect() polls without evaluating a string: the page's CSP forbids eval.
    expect(page.locator(f"#cards-{stages['Discovery'].pk} .board-card")).to_have_count(27)
    assert page.locator(f"#more-{stages['Discovery'].pk} a").count() == 0
    names = discovery.locator(".board-card-title").all_inner_texts()
    assert names == [f"Bulk deal {i:02d}" for i in range(27)]
    assert page.locator(f"#more-{stages['Won'].pk} a").count() == 1

    # A card that came with "Load more" drags like the others (the board's shared form).
    loaded = Opportunity.objects.get(name="Bulk deal 25")
    card = page.locator(f"#card-{loaded.pk}")
    _drag(
        page, card.locator(".board-card-amount"), page.locator(f"#cards-{stages['Negotiation'].pk}")
    )
    page.wait_for_selector(f"#cards-{stages['Negotiation'].pk} #card-{loaded.pk}", state="attached")
    expect(page.locator(f"#column-{stages['Negotiation'].pk} [data-count]")).to_have_text("23")
    loaded.refresh_from_db()
    assert loaded.stage == stages["Negotiation"]
    assert page.dialogs == []


def test_board_at_phone_width(browser, rep, stages, live_server, screenshot):
    for i, stage in enumerate(["Discovery", "Discovery", "Proposal"]):
        opportunity_create(
            actor=rep,
            fields={
                "name": f"Pocket deal {i}",
                "amount": Decimal(1000 * (i + 1)),
                "stage": stages[stage],
            },
        )
    page = _page(browser, live_server, width=390, height=844)
    try:
        _sign_in_with_cookie(page, rep, live_server)
        page.goto("/opportunities/board")
        page.wait_for_selector(".board-card:has-text('Pocket deal 0')")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width  # the columns scroll inside the board, not the page
        screenshot(page, "board-phone")
        first = page.locator(".board-column").first
        assert first.bounding_box()["width"] < 390
        page.goto("/leads/")
        screenshot(page, "leads-list-phone")
        deal = Opportunity.objects.get(name="Pocket deal 2")
        page.goto(f"/opportunities/{deal.pk}/")
        screenshot(page, "opportunity-page-phone", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert page.dialogs == []
    finally:
        page.context.close()
