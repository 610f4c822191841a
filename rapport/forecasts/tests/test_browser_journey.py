"""The SFA journey of issue 15, in the browser: a lead arrives through the API, is placed in
its territory and routed to the territory's rep, scored with reasons; the rep converts it,
puts a product on the deal, moves it on the board, ticks the stage's playbook step, makes
and sends a quote; the customer accepts it through the public link → won → the rep's
forecast and quota attainment show it. (Sequences are added by the lead after merging.)"""

from decimal import Decimal

import pytest
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.conftest import ApiClient, restore_migration_data, shots_at_both_sizes, sign_in
from rapport.forecasts.periods import QUARTER, period_containing
from rapport.playbooks.services import step_add
from rapport.quotes import services as quotes
from rapport.quotes.models import Quote
from rapport.sales.models import Opportunity, Pipeline, Product
from rapport.scoring.models import ScoringRule
from rapport.sequences.models import Enrolment
from rapport.sequences.services import sequence_create
from rapport.territories import services as territories
from rapport.territories.models import AssignmentRule, Strategy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _console_errors(page):
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def test_lead_to_accepted_quote_moves_the_forecast(
    page, browser, live_server, personas, screenshot
):
    restore_migration_data()  # the default pipeline, after an earlier transactional test's flush
    page.set_default_timeout(60_000)  # a loaded shared machine
    console = _console_errors(page)
    admin, rep = personas.admin, personas.owner
    france = territories.territory_save(actor=admin, fields={"name": "France"})
    territories.territory_set_rules(
        actor=admin, territory=france, rules=[{"field": "country", "values": ["FR"]}]
    )
    territories.territory_set_members(actor=admin, territory=france, reps=[rep], managers=[])
    AssignmentRule.objects.create(name="Territory rep", strategy=Strategy.TERRITORY_REP)
    ScoringRule.objects.create(kind="fit", field="source", value="web", points=30)
    tracker = Product.objects.create(
        sku="FLEET-1", name="Fleet tracker", unit_price=Decimal("10000")
    )
    pipeline = Pipeline.objects.get(is_default=True)
    proposal = pipeline.stages.get(name="Proposal")
    step_add(actor=admin, stage=proposal, text="Walk the buyer through the proposal")
    quarter = period_containing(QUARTER, timezone.localdate())
    # The manager sets the rep's quota through the API.
    quota = ApiClient(personas.manager).put(
        "/api/forecasts/quotas", {"period": quarter.key, "user_id": rep.pk, "amount": "100000"}
    )
    assert quota.status_code == 200, quota.data

    # A lead arrives through the API: placed in France, routed to its rep, scored.
    lead = (
        ApiClient(personas.teammate)
        .post(
            "/api/leads",
            {
                "last_name": "Moreau",
                "company": "Fromagerie Moreau",
                "country": "FR",
                "source": "web",
            },
        )
        .data
    )
    assert lead["owner_id"] == rep.pk and lead["territory_id"] == france.pk
    assert lead["score"] == 30

    sign_in(page, rep)
    page.goto(f"/leads/{lead['id']}/")
    page.wait_for_load_state("load")
    assert "source is web: +30" in page.locator(".score-card").inner_text()

    # The rep enrols the lead in a guided sequence; its first step (a call) becomes a task.
    sequence = sequence_create(
        actor=rep,
        fields={"name": "New web lead"},
        steps=[{"kind": "call", "subject": "Call the new lead"}],
    )
    page.reload()
    page.wait_for_load_state("load")
    card = page.locator("#sequences-card")
    page.select_option("#enrol-sequence", str(sequence.pk))
    card.get_by_role("button", name="Enrol").click()
    page.wait_for_load_state("load")
    card.locator(".status").first.wait_for()
    enrolment = Enrolment.objects.get(lead_id=lead["id"], sequence=sequence)
    assert enrolment.state in ("active", "finished")
    assert Activity.objects.filter(
        lead_id=lead["id"], kind="task", subject="Call: Call the new lead", owner=rep
    ).exists()

    # The rep converts it into an opportunity.
    page.click(".record-actions a:has-text('Convert')")
    page.wait_for_selector("#convert-dialog[open]")
    page.check("#id_create_opportunity")
    page.fill("#id_opportunity_name", "Moreau fleet")
    page.click("#convert-dialog button:has-text('Convert')")
    page.wait_for_selector(".conversion-card a:has-text('Moreau fleet')")
    deal = Opportunity.objects.get(name="Moreau fleet")

    # Two trackers on the deal: its amount is 20,000.
    page.goto(f"/opportunities/{deal.pk}/")
    page.wait_for_load_state("load")
    page.select_option("#line-item-add select[name='product']", value=str(tracker.pk))
    page.fill("#line-item-add input[name='quantity']", "2")
    with page.expect_response(lambda r: "line-items/add" in r.url):
        page.click("#line-item-add button:has-text('Add product')")
    page.locator(".record").get_by_text("Fleet tracker").first.wait_for()
    deal.refresh_from_db()
    assert deal.amount == Decimal("20000.00")

    # On the board, moved to Proposal.
    page.goto("/opportunities/board")
    page.wait_for_load_state("load")
    page.click(f"#card-{deal.pk} .board-move-link")
    page.select_option(f"#move-{deal.pk}", label="Proposal")
    page.click(".board-move-form button:has-text('Move')")
    page.wait_for_selector(f'.board-cards[data-stage-id="{proposal.pk}"] #card-{deal.pk}')
    shots_at_both_sizes(page, screenshot, "sfa-journey-board")

    # The stage's playbook step, ticked on the deal.
    page.goto(f"/opportunities/{deal.pk}/")
    page.wait_for_load_state("load")
    check = page.locator(".playbook-check[aria-label='Walk the buyer through the proposal']")
    with page.expect_response(lambda r: "/playbooks/" in r.url):
        check.click()
    page.wait_for_selector(".playbook-check[aria-checked='true']")

    # A quote from the line items, sent to the customer.
    page.locator("button:has-text('Create a quote')").click()
    page.wait_for_selector("h2:has-text('Send to the customer')")
    page.fill("#id_to", "claire@moreau.example")
    page.click("button:has-text('Send quote')")
    page.wait_for_load_state("load")
    quote = Quote.objects.get(opportunity=deal)
    assert quote.status == "sent", quote.status

    # The customer accepts through the signed link (no sign-in).
    customer = browser.new_context(viewport={"width": 390, "height": 844}, base_url=live_server.url)
    public = customer.new_page()
    public.set_default_timeout(60_000)
    public.goto("/q/" + quotes.decision_url(quote).split("/q/")[1])
    public.click("button:has-text('Accept the quote')")
    public.wait_for_load_state("load")
    customer.close()
    deal.refresh_from_db()
    assert deal.stage.kind == "won"

    # The rep's forecast: won 20,000 of a 100,000 quota.
    page.goto(f"/analytics/forecast/?period={quarter.key}&scope=me")
    page.wait_for_load_state("load")
    assert "20,000.00" in page.locator("[data-figure='won']").inner_text()
    stats = page.locator(".analytics-stats").inner_text()
    assert "20 % of the quota" in stats and "100,000.00" in stats
    shots_at_both_sizes(page, screenshot, "sfa-journey-forecast")
    assert not page.errors, page.errors
    assert not [c for c in console if "Content Security Policy" in c], console
