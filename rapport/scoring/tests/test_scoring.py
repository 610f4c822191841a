"""Scoring on a planted dataset: the learned lead score ranks better than Odoo-style
naive-Bayes frequencies on the same holdout (the planted signal is in engagement, which the
frequency baseline cannot see), its calibration error is reported, reasons come with every
score; too little history falls back to the rule score; the win probability replaces the
stage default only in the stages where it is better on the holdout."""

import datetime
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.leads.models import Lead
from rapport.leads.services import lead_create
from rapport.sales.models import Opportunity, Pipeline, Stage, StageChange
from rapport.scoring import services
from rapport.scoring.models import LeadScore, OpportunityScore, ScoringRule

pytestmark = pytest.mark.django_db


def _planted_leads(owner, n=500, seed=3):
    rng = random.Random(seed)
    now = timezone.now()
    leads, visits = [], []
    for i in range(n):
        web = rng.randint(0, 8)
        source = rng.choice(["web", "referral", "event"])
        logit = -2.2 + 0.55 * web + (0.6 if source == "referral" else 0)
        converted = rng.random() < 1 / (1 + 2.718**-logit)
        leads.append(
            Lead(
                owner=owner,
                last_name=f"P{i}",
                source=source,
                industry=rng.choice(["software", "retail"]),
                status="converted" if converted else "disqualified",
                disqualified_reason="" if converted else "No fit",
                converted_at=now if converted else None,
            )
        )
        visits.append(web)
    Lead.objects.bulk_create(leads)
    ids = list(
        Lead.objects.filter(last_name__startswith="P").order_by("id").values_list("id", flat=True)
    )
    acts = [
        Activity(
            kind="interaction",
            channel="web",
            subject="Visit",
            owner=owner,
            lead_id=pk,
            occurred_at=now - datetime.timedelta(days=3),
        )
        for pk, k in zip(ids, visits, strict=True)
        for _ in range(k)
    ]
    Activity.objects.bulk_create(acts)


def test_too_little_history_falls_back_to_the_rule_score(personas):
    ScoringRule.objects.create(kind="fit", field="source", value="referral, partner", points=30)
    ScoringRule.objects.create(kind="engagement", field="web_visits", points=5, cap=4)
    model = services.train_leads(actor=personas.admin)
    assert not model.usable and "Too little history" in model.message
    lead = lead_create(actor=personas.owner, fields={"last_name": "R", "source": "Referral"})
    score = LeadScore.objects.get(lead=lead)
    assert (score.source, score.score, score.rule_score) == ("rule", 30, 30)
    assert score.reasons == [{"feature": "source is referral, partner: +30", "effect": 30}]


def test_the_learned_score_beats_the_frequency_baseline_and_reports_calibration(personas):
    _planted_leads(personas.owner)
    model = services.train_leads(actor=personas.admin)
    assert model.usable, model.message
    m, b = model.metrics["model"], model.metrics["baseline"]
    assert m["auc"] > b["auc"] + 0.05, (m["auc"], b["auc"])
    assert m["auc"] > 0.75
    assert 0 <= m["ece"] < 0.15 and 0 <= b["ece"] <= 1
    assert m["brier"] < b["brier"]
    assert sum(row["n"] for row in m["reliability"]) == model.metrics["n_holdout"]
    # A new engaged lead scores above a new silent one, with reasons.
    keen = lead_create(actor=personas.owner, fields={"last_name": "Keen", "source": "web"})
    Activity.objects.bulk_create(
        [
            Activity(
                kind="interaction",
                channel="web",
                owner=personas.owner,
                lead=keen,
                occurred_at=timezone.now(),
            )
            for _ in range(7)
        ]
    )
    quiet = lead_create(actor=personas.owner, fields={"last_name": "Quiet", "source": "web"})
    assert services.score_leads([keen.pk, quiet.pk]) == 2
    keen_score, quiet_score = LeadScore.objects.get(lead=keen), LeadScore.objects.get(lead=quiet)
    assert keen_score.source == "learned"
    assert keen_score.score > quiet_score.score + 20
    assert keen_score.reasons[0]["feature"] == "web visits"
    assert keen_score.reasons[0]["effect"] > 0


def _planted_deals(owner, n=320, seed=5):
    """Deals whose outcome depends on how long they sat in their stage (stale deals die),
    which the stage default cannot know."""
    rng = random.Random(seed)
    pipeline = Pipeline.objects.get(is_default=True)
    stages = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
    open_stages = [s for s in stages if s.kind == "open"]
    won = next(s for s in stages if s.kind == "won")
    lost = next(s for s in stages if s.kind == "lost")
    start = timezone.now() - datetime.timedelta(days=400)
    for i in range(n):
        stage = rng.choice(open_stages[:2])
        stay = rng.choice([3, 5, 60, 90])
        p = 0.8 if stay < 10 else 0.1
        outcome = won if rng.random() < p else lost
        created = start + datetime.timedelta(days=rng.randint(0, 200))
        opp = Opportunity.objects.create(
            owner=owner,
            name=f"D{i}",
            pipeline=pipeline,
            stage=outcome,
            amount=Decimal(rng.randint(1, 50) * 1000),
            created_at=created,
            lost_reason="" if outcome == won else "x",
        )
        StageChange.objects.create(opportunity=opp, to_stage=stage, changed_at=created)
        StageChange.objects.create(
            opportunity=opp,
            from_stage=stage,
            to_stage=outcome,
            changed_at=created + datetime.timedelta(days=stay),
        )
    return open_stages


def test_win_probability_replaces_the_stage_default_only_where_better(personas):
    open_stages = _planted_deals(personas.owner)
    model = services.train_opportunities(actor=personas.admin)
    assert model.usable, model.message
    stages = model.metrics["stages"]
    assert stages[open_stages[0].name]["use_model"]
    assert stages[open_stages[0].name]["model_brier"] < stages[open_stages[0].name]["default_brier"]
    assert model.metrics["model"]["auc"] > model.metrics["stage_default"]["auc"]
    # An open deal in a stage the model won scores by the model; a later stage keeps its default.
    pipeline = open_stages[0].pipeline
    now = timezone.now()
    fresh = Opportunity.objects.create(
        owner=personas.owner,
        name="Fresh",
        pipeline=pipeline,
        stage=open_stages[0],
        stage_changed_at=now - datetime.timedelta(days=1),
        created_at=now - datetime.timedelta(days=1),
    )
    stale = Opportunity.objects.create(
        owner=personas.owner,
        name="Stale",
        pipeline=pipeline,
        stage=open_stages[0],
        stage_changed_at=now - datetime.timedelta(days=80),
        created_at=now - datetime.timedelta(days=80),
    )
    late = Opportunity.objects.create(
        owner=personas.owner,
        name="Late",
        pipeline=pipeline,
        stage=open_stages[-1],
        stage_changed_at=now,
    )
    services.score_opportunities()
    f, s, last = (OpportunityScore.objects.get(opportunity=o) for o in (fresh, stale, late))
    assert (f.source, s.source) == ("model", "model")
    assert f.probability > s.probability + 30
    assert (last.source, last.probability) == ("stage", open_stages[-1].probability)
