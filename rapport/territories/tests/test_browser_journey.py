"""Browser journey: a lead arrives through the API, is placed in its territory and routed
to the territory's rep, gets a score with reasons; the rep opens it and sees all three; the
territory manager reads it too (the one visibility layer)."""

import pytest

from rapport.conftest import ApiClient, shots_at_both_sizes, sign_in
from rapport.scoring.models import ScoringRule
from rapport.territories import services
from rapport.territories.models import AssignmentRule, Strategy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_api_lead_is_routed_to_the_territory_rep_and_scored(page, personas, screenshot):
    page.set_default_timeout(60_000)  # a loaded shared machine
    admin = personas.admin
    france = services.territory_save(actor=admin, fields={"name": "France"})
    services.territory_set_rules(
        actor=admin, territory=france, rules=[{"field": "country", "values": ["FR"]}]
    )
    services.territory_set_members(
        actor=admin, territory=france, reps=[personas.teammate], managers=[personas.outsider]
    )
    AssignmentRule.objects.create(name="Territory rep", strategy=Strategy.TERRITORY_REP)
    ScoringRule.objects.create(kind="fit", field="source", value="web", points=30)
    ScoringRule.objects.create(kind="fit", field="title", operator="not_empty", points=15)

    response = ApiClient(personas.owner).post(
        "/api/leads",
        {
            "last_name": "Dupont",
            "company": "Fromagerie",
            "country": "FR",
            "source": "web",
            "title": "CEO",
        },
    )
    assert response.status_code == 201, response.data
    lead = response.data
    assert lead["owner_id"] == personas.teammate.pk
    assert lead["territory_id"] == france.pk
    assert (lead["score"], lead["score_source"]) == (45, "rule")

    sign_in(page, personas.teammate)
    page.goto(f"/leads/{lead['id']}/")
    card = page.locator(".score-card")
    assert "45" in card.locator(".score-badge").inner_text()
    assert "too little history" in card.inner_text()
    assert "source is web: +30" in card.inner_text()
    assert "France" in page.locator(".fact-list").inner_text()
    timeline = page.locator("text=by rule “Territory rep”")
    timeline.first.wait_for()
    shots_at_both_sizes(page, screenshot, "territories-journey-lead")

    # The rep's list sorts by score; the territory manager (another team) reads the lead.
    page.goto("/leads/?sort=-score")
    assert "Dupont" in page.locator("table").inner_text()
    page.context.clear_cookies()
    sign_in(page, personas.outsider)
    assert page.goto(f"/leads/{lead['id']}/").status == 200
    assert not page.errors
