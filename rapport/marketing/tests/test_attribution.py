"""Attribution models and ROI on a hand-computed example.

Campaign A (cost 100) and B (cost 300). Lead L1 was touched A (2 days before), B (1 day
before), A (its form); L2 by B only; L3 by nothing. Jane (contact at Acme) visited the site
from A three days ago and clicked B's mail an hour ago; then the Acme deal (1,000) was
created and won.

             first         last          linear
  A leads    1 (L1)        1 (L1)        2/3
  B leads    1 (L2)        1 (L2)        1/3 + 1 = 4/3
  A deal     1 / 1,000     0 / 0         1/2 / 500
  B deal     0 / 0         1 / 1,000     1/2 / 500
Linear ROI: A: CPL 100 ÷ 2/3 = 150, CPS 100 ÷ 1/2 = 200, ROI (500 − 100) ÷ 100 = 4;
B: CPL 300 ÷ 4/3 = 225, CPS 600, ROI 200 ÷ 300. Organisation: 400 ÷ 2 leads = 200 per lead,
400 ÷ 1 sale, ROI (1,000 − 400) ÷ 400 = 1.5.
"""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from rapport.accounts.services import account_create, contact_create
from rapport.campaigns.models import Campaign
from rapport.leads.services import lead_create
from rapport.marketing import attribution
from rapport.sales.models import Pipeline
from rapport.sales.services.opportunities import opportunity_create, opportunity_move_stage
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def example(personas):
    now = timezone.now()
    day = datetime.timedelta(days=1)
    a = Campaign.objects.create(name="A", utm_campaign="a", cost=Decimal("100"))
    b = Campaign.objects.create(name="B", utm_campaign="b", cost=Decimal("300"))
    actor = personas.owner
    l1 = lead_create(actor=actor, fields={"last_name": "One"})
    l2 = lead_create(actor=actor, fields={"last_name": "Two"})
    lead_create(actor=actor, fields={"last_name": "Three"})
    timeline_record(
        subject=l1, kind=EventKind.EMAIL_CLICKED, campaign_id=a.pk, occurred_at=now - 2 * day
    )
    timeline_record(subject=l1, kind=EventKind.WEB_SESSION, campaign_id=b.pk, occurred_at=now - day)
    timeline_record(subject=l1, kind=EventKind.FORM_SUBMITTED, campaign_id=a.pk, occurred_at=now)
    timeline_record(subject=l2, kind=EventKind.FORM_SUBMITTED, campaign_id=b.pk, occurred_at=now)
    # Not touches: a send and an open.
    timeline_record(subject=l2, kind=EventKind.CAMPAIGN_SENT, campaign_id=a.pk, occurred_at=now)
    timeline_record(subject=l2, kind=EventKind.EMAIL_OPENED, campaign_id=a.pk, occurred_at=now)
    acme = account_create(actor=actor, fields={"name": "Acme"})
    jane = contact_create(actor=actor, fields={"last_name": "Doe", "account": acme})
    timeline_record(
        subject=jane, kind=EventKind.WEB_SESSION, campaign_id=a.pk, occurred_at=now - 3 * day
    )
    timeline_record(
        subject=jane,
        kind=EventKind.EMAIL_CLICKED,
        campaign_id=b.pk,
        occurred_at=now - datetime.timedelta(hours=1),
    )
    deal = opportunity_create(
        actor=actor,
        fields={
            "name": "Acme deal",
            "amount": Decimal("1000"),
            "account": acme,
            "primary_contact": jane,
        },
    )
    won = Pipeline.objects.get(name="Sales").stages.get(kind="won")
    opportunity_move_stage(opportunity=deal, stage=won, actor=actor)
    # A click after the deal was won does not count for it.
    timeline_record(
        subject=jane, kind=EventKind.EMAIL_CLICKED, campaign_id=a.pk, occurred_at=now + day
    )
    return a, b


def _credit(result, campaign):
    return result.by_campaign.get(campaign.pk, attribution.CampaignCredit())


def test_first_touch(example):
    a, b = example
    result = attribution.attribute(model="first")
    assert (_credit(result, a).leads, _credit(result, b).leads) == (1, 1)
    assert (_credit(result, a).won, _credit(result, b).won) == (1, 0)
    assert _credit(result, a).revenue == Decimal("1000")
    assert result.totals["leads"] == 3 and result.unattributed["leads"] == 1


def test_last_touch(example):
    a, b = example
    result = attribution.attribute(model="last")
    assert (_credit(result, a).leads, _credit(result, b).leads) == (1, 1)
    assert (_credit(result, a).opportunities, _credit(result, b).opportunities) == (0, 1)
    assert _credit(result, b).revenue == Decimal("1000")


def test_linear(example):
    a, b = example
    result = attribution.attribute(model="linear")
    assert _credit(result, a).leads == pytest.approx(2 / 3)
    assert _credit(result, b).leads == pytest.approx(4 / 3)
    assert _credit(result, a).opportunities == pytest.approx(0.5)
    assert _credit(result, a).revenue == _credit(result, b).revenue == Decimal("500.00")


def test_roi_numbers(example):
    a, b = example
    rows, org, _ = attribution.campaign_roi(model="linear")
    by_name = {r.campaign.name: r for r in rows}
    assert by_name["A"].cost_per_lead == Decimal("150.00")
    assert by_name["A"].cost_per_sale == Decimal("200.00")
    assert by_name["A"].roi == pytest.approx(4.0)
    assert by_name["B"].cost_per_lead == Decimal("225.00")
    assert by_name["B"].cost_per_sale == Decimal("600.00")
    assert by_name["B"].roi == pytest.approx(200 / 300)
    assert org["cost_per_lead"] == Decimal("200.00")
    assert org["cost_per_sale"] == Decimal("400.00")
    assert org["roi"] == pytest.approx(1.5)


def test_roi_api_and_pages_are_for_managers(example, personas, api_as):
    from django.test import Client

    body = api_as(personas.manager).get("/api/marketing/roi", model="linear", period="all")
    assert body.status_code == 200
    a = next(c for c in body.data["campaigns"] if c["name"] == "A")
    assert a["cost_per_lead"] == 150.0 and a["roi"] == pytest.approx(4.0)
    assert body.data["organisation"]["cost_per_sale"] == 400.0
    assert api_as(personas.owner).get("/api/marketing/roi").status_code == 403
    client = Client()
    client.force_login(personas.manager)
    for url in (
        "/marketing/roi/?model=first",
        "/marketing/attribution/",
        "/marketing/journeys/",
        "/analytics/",
    ):
        assert client.get(url).status_code == 200, url
    roi_page = client.get("/marketing/roi/?period=all").content.decode()
    assert "150.00" in roi_page
    client.force_login(personas.owner)
    assert client.get("/marketing/roi/").status_code == 403
