"""Lead scores and opportunity win probabilities: rule points, training (with the too-little-
history fallback), batch scoring and the single-record scoring the create paths call."""

import datetime
import math
import pickle
from collections import defaultdict

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils import timezone

from rapport.records.exceptions import PermissionDenied
from rapport.scoring import learn
from rapport.scoring.models import (
    LeadScore,
    OpportunityScore,
    RuleKind,
    ScoreModel,
    ScoringRule,
    Target,
)

LEAD_FIELDS = (
    "id",
    "source",
    "industry",
    "country",
    "title",
    "email",
    "phone",
    "company",
    "website",
    "campaign",
    "status",
    "created_at",
    "converted_at",
    "updated_at",
)
LEAD_CATEGORICAL = ["source", "industry", "country", "email_state", "phone_state"]
OPP_CATEGORICAL = ["stage", "source"]
ENGAGEMENT_FIELDS = ("activities", "emails", "web_visits")
FIT_FIELDS = (
    "source",
    "industry",
    "country",
    "title",
    "company",
    "email",
    "phone",
    "website",
    "campaign",
)
BATCH = 5000


def min_outcomes() -> int:
    """Converted and not-converted leads (won and lost deals) each needed before a learned
    model replaces the rule score (the stage default)."""
    return int(getattr(settings, "RAPPORT_SCORING_MIN_OUTCOMES", 40))


def _require_admin(actor) -> None:
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("Only administrators change scoring")


# ----- rules -----------------------------------------------------------------------------------


def rule_save(*, actor, fields: dict, rule: ScoringRule | None = None) -> ScoringRule:
    _require_admin(actor)
    rule = rule or ScoringRule()
    for key in ("kind", "field", "operator", "value", "points", "cap"):
        if key in fields:
            setattr(rule, key, fields[key])
    allowed = ENGAGEMENT_FIELDS if rule.kind == RuleKind.ENGAGEMENT else FIT_FIELDS
    if rule.field not in allowed:
        raise ValidationError(
            {"field": [ValidationError(f"Choose one of {', '.join(allowed)}", code="invalid")]}
        )
    if rule.kind == RuleKind.FIT and rule.operator not in ("equals", "contains", "not_empty"):
        raise ValidationError({"operator": [ValidationError("Unknown operator", code="invalid")]})
    rule.full_clean()
    rule.save()
    return rule


def rule_delete(*, actor, rule: ScoringRule) -> None:
    _require_admin(actor)
    rule.delete()


def rule_points(row: dict, counts: dict, rules: list[ScoringRule]) -> tuple[int, list[dict]]:
    """The rule score (clamped to 0–100) and the rules that gave points."""
    total, hits = 0, []
    for rule in rules:
        if rule.kind == RuleKind.ENGAGEMENT:
            n = counts.get(rule.field, 0)
            if rule.cap is not None:
                n = min(n, rule.cap)
            pts = n * rule.points
        else:
            value = str(row.get(rule.field) or "").strip().lower()
            wanted = [w.strip().lower() for w in rule.value.split(",") if w.strip()]
            if rule.operator == "not_empty":
                ok = bool(value)
            elif rule.operator == "contains":
                ok = any(w in value for w in wanted)
            else:
                ok = value in wanted
            pts = rule.points if ok else 0
        if pts:
            total += pts
            hits.append({"feature": str(rule), "effect": pts})
    hits.sort(key=lambda h: -abs(h["effect"]))
    return max(0, min(100, total)), hits


# ----- features --------------------------------------------------------------------------------


def _engagement(lead_ids: list[int], before: dict[int, datetime.datetime] | None = None) -> dict:
    """Activities, emails and web visits per lead (before each lead's cut-off when given:
    a converted lead's activities after conversion would leak the outcome)."""
    from rapport.activities.models import Activity

    out: dict[int, dict] = defaultdict(lambda: {"activities": 0, "emails": 0, "web_visits": 0})
    rows = (
        Activity.objects.filter(lead_id__in=lead_ids)
        .values_list("lead_id", "kind", "channel", "occurred_at")
        .order_by()
    )
    for lead_id, kind, channel, occurred_at in rows:
        if before and before.get(lead_id) and occurred_at >= before[lead_id]:
            continue
        c = out[lead_id]
        c["activities"] += 1
        if kind == "email" or channel == "email":
            c["emails"] += 1
        if channel == "web":
            c["web_visits"] += 1
    return out


def lead_features(row: dict, counts: dict) -> dict:
    return {
        "source": (row.get("source") or "").lower(),
        "industry": (row.get("industry") or "").lower(),
        "country": row.get("country") or "",
        "email_state": "free"
        if _free_mail(row.get("email") or "")
        else ("set" if row.get("email") else "none"),
        "phone_state": "set" if row.get("phone") else "none",
        "has_title": 1.0 if row.get("title") else 0.0,
        "has_company": 1.0 if row.get("company") else 0.0,
        "has_website": 1.0 if row.get("website") else 0.0,
        "activities": math.log1p(counts.get("activities", 0)),
        "emails": math.log1p(counts.get("emails", 0)),
        "web_visits": math.log1p(counts.get("web_visits", 0)),
    }


_FREE = {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "gmx.de", "web.de", "icloud.com"}


def _free_mail(email: str) -> bool:
    return email.rsplit("@", 1)[-1].lower() in _FREE


# ----- models ----------------------------------------------------------------------------------

_CACHE: dict[tuple, object] = {}


def current_model(target: str) -> ScoreModel | None:
    return (
        ScoreModel.objects.filter(target=target)
        .defer("blob")
        .order_by("-trained_at", "-id")
        .first()
    )


def _loaded(model: ScoreModel):
    # Keyed by more than the id: a rolled-back test (or a restored database) reuses ids.
    key = (model.pk, model.target, model.trained_at.isoformat())
    if key not in _CACHE:
        blob = ScoreModel.objects.filter(pk=model.pk).values_list("blob", flat=True).first()
        if len(_CACHE) > 4:
            _CACHE.clear()
        _CACHE[key] = pickle.loads(bytes(blob)) if blob else None  # noqa: S301 - our own
    return _CACHE[key]


def _too_little_history(target: str, y: list[int], actor, message: str) -> ScoreModel:
    """The record of a training that did not happen: unusable, saying why."""
    return ScoreModel.objects.create(
        target=target,
        trained_at=timezone.now(),
        outcomes=len(y),
        positives=sum(y),
        usable=False,
        trained_by=actor,
        message=message,
    )


def train_leads(*, actor=None) -> ScoreModel:
    """Train on converted (1) vs disqualified (0) leads. Too little history → an unusable
    ScoreModel saying so; scores stay the rule score."""
    _require_admin(actor)
    from rapport.leads.models import Lead

    rows = list(Lead.objects.filter(status__in=["converted", "disqualified"]).values(*LEAD_FIELDS))
    y = [1 if r["status"] == "converted" else 0 for r in rows]
    pos, neg = sum(y), len(y) - sum(y)
    now = timezone.now()
    if min(pos, neg) < min_outcomes():
        return _too_little_history(
            Target.LEAD,
            y,
            actor,
            f"Too little history: {pos} converted and {neg} disqualified leads; the learned "
            f"score needs at least {min_outcomes()} of each. Leads show the rule score.",
        )
    cut = {r["id"]: r["converted_at"] or r["updated_at"] for r in rows}
    counts = _engagement([r["id"] for r in rows], before=cut)
    feats = [lead_features(r, counts.get(r["id"], {})) for r in rows]
    trained = learn.train(feats, y, categorical=LEAD_CATEGORICAL)
    better = (trained.metrics["auc"] or 0) >= (trained.baseline["auc"] or 0)
    return ScoreModel.objects.create(
        target=Target.LEAD,
        trained_at=now,
        outcomes=len(y),
        positives=pos,
        usable=True,
        trained_by=actor,
        message="" if better else "The naive-Bayes baseline ranks better on the holdout.",
        metrics={
            "model": trained.metrics,
            "baseline": trained.baseline,
            "n_train": trained.n_train,
            "n_holdout": trained.n_holdout,
        },
        blob=pickle.dumps({"model": trained.model, "explainer": trained.explainer}),
    )


def score_leads(ids: list[int] | None = None) -> int:
    """(Re)score leads: all open ones (ids=None) or these; returns how many."""
    from rapport.leads.models import Lead

    rules = list(ScoringRule.objects.all())
    sm = current_model(Target.LEAD)
    loaded = _loaded(sm) if sm is not None and sm.usable else None
    qs = Lead.objects.all()
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    else:
        qs = qs.exclude(status__in=["converted", "disqualified"])
    n = 0
    all_ids = list(qs.order_by("id").values_list("id", flat=True))
    for start in range(0, len(all_ids), BATCH):
        chunk = all_ids[start : start + BATCH]
        rows = list(Lead.objects.filter(pk__in=chunk).values(*LEAD_FIELDS))
        n += len(score_rows(rows, _engagement(chunk), rules, loaded))
    return n


def score_rows(rows: list[dict], counts: dict, rules, loaded) -> list[LeadScore]:
    """Score lead rows (dicts of LEAD_FIELDS) and store them; the bench calls this too."""
    now = timezone.now()
    feats = [lead_features(r, counts.get(r["id"], {})) for r in rows]
    probs = learn.predict(loaded["model"], feats) if loaded else None
    why = learn.reasons(loaded["explainer"], feats) if loaded else None
    out = []
    for i, row in enumerate(rows):
        points, hits = rule_points(row, counts.get(row["id"], {}), rules)
        if probs is not None:
            p = float(probs[i])
            out.append(
                LeadScore(
                    lead_id=row["id"],
                    rule_score=points,
                    learned=p,
                    score=round(p * 100),
                    source="learned",
                    reasons=why[i],
                    scored_at=now,
                )
            )
        else:
            out.append(
                LeadScore(
                    lead_id=row["id"],
                    rule_score=points,
                    learned=None,
                    score=points,
                    source="rule",
                    reasons=hits[:3],
                    scored_at=now,
                )
            )
    LeadScore.objects.bulk_create(
        out,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["lead"],
        update_fields=["rule_score", "learned", "score", "source", "reasons", "scored_at"],
    )
    return out


# ----- opportunities ---------------------------------------------------------------------------


def _owner_rates(closed: list[tuple[int, int]]) -> dict[int, tuple[int, int]]:
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for owner_id, won in closed:
        out[owner_id][0] += won
        out[owner_id][1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def _owner_rate(rates, owner_id: int, minus: int | None = None) -> float:
    won, n = rates.get(owner_id, (0, 0))
    if minus is not None:  # leave the deal itself out of its owner's history
        won, n = won - minus, n - 1
    return (won + 1) / (n + 2)


def opp_features(
    *, stage: str, source: str, amount, created_at, at, entered_at, last_activity, owner_rate
) -> dict:
    age = max((at - created_at).total_seconds() / 86400, 0)
    in_stage = max((at - entered_at).total_seconds() / 86400, 0) if entered_at else age
    recency = (
        (at - last_activity).total_seconds() / 86400
        if last_activity and last_activity <= at
        else 365
    )
    return {
        "stage": stage,
        "source": (source or "").lower(),
        "age_days": math.log1p(age),
        "days_in_stage": math.log1p(in_stage),
        "log_amount": math.log1p(float(amount or 0)),
        "days_since_activity": math.log1p(max(recency, 0)),
        "owner_win_rate": owner_rate,
    }


def _snapshots():
    """Training rows from the stage history of closed deals: one per stay in an open stage,
    observed half-way through it (what a scorer would have seen then), labelled won/lost."""
    from rapport.activities.models import Activity
    from rapport.sales.models import Opportunity, StageChange

    closed = list(
        Opportunity.objects.filter(stage__kind__in=["won", "lost"]).values(
            "id", "owner_id", "amount", "source", "created_at", "stage__kind"
        )
    )
    label = {o["id"]: 1 if o["stage__kind"] == "won" else 0 for o in closed}
    rates = _owner_rates([(o["owner_id"], label[o["id"]]) for o in closed])
    changes = defaultdict(list)
    for c in (
        StageChange.objects.filter(opportunity_id__in=list(label))
        .order_by("opportunity_id", "changed_at", "id")
        .values(
            "opportunity_id",
            "to_stage_id",
            "to_stage__name",
            "to_stage__kind",
            "to_stage__probability",
            "changed_at",
        )
    ):
        changes[c["opportunity_id"]].append(c)
    acts = defaultdict(list)
    for opp_id, at in Activity.objects.filter(opportunity_id__in=list(label)).values_list(
        "opportunity_id", "occurred_at"
    ):
        acts[opp_id].append(at)
    feats, y, defaults, stages = [], [], [], []
    for o in closed:
        history = changes.get(o["id"], [])
        for i, c in enumerate(history):
            if c["to_stage__kind"] != "open" or i + 1 >= len(history):
                continue
            entered, left = c["changed_at"], history[i + 1]["changed_at"]
            at = entered + (left - entered) / 2
            before = [a for a in acts.get(o["id"], []) if a <= at]
            feats.append(
                opp_features(
                    stage=c["to_stage__name"],
                    source=o["source"],
                    amount=o["amount"],
                    created_at=o["created_at"],
                    at=at,
                    entered_at=entered,
                    last_activity=max(before) if before else None,
                    owner_rate=_owner_rate(rates, o["owner_id"], minus=label[o["id"]]),
                )
            )
            y.append(label[o["id"]])
            defaults.append(c["to_stage__probability"] / 100)
            stages.append(c["to_stage__name"])
    return feats, y, defaults, stages, rates


def train_opportunities(*, actor=None) -> ScoreModel:
    """Train the win probability; measure it on the holdout against the stage default and the
    naive-Bayes baseline, and record per stage whether the model's Brier score beats the
    stage default's (only those stages use it)."""
    _require_admin(actor)
    feats, y, defaults, stages, rates = _snapshots()
    pos, neg = sum(y), len(y) - sum(y)
    now = timezone.now()
    if min(pos, neg) < min_outcomes():
        return _too_little_history(
            Target.OPPORTUNITY,
            y,
            actor,
            f"Too little history: {pos} observations of won and {neg} of lost deals; the "
            f"model needs {min_outcomes()} of each. Opportunities keep their stage's default.",
        )
    plain = feats
    trained = learn.train(plain, y, categorical=OPP_CATEGORICAL)
    hold = trained.holdout
    # The holdout rows are the same objects as in `plain`: find their defaults by identity.
    index = {id(f): i for i, f in enumerate(plain)}
    d_hold = np.array([defaults[index[id(r)]] for r in hold["rows"]])
    s_hold = [stages[index[id(r)]] for r in hold["rows"]]
    y_hold, p_hold = np.array(hold["y"]), np.array(hold["p"])
    stage_default = learn.metrics(y_hold, d_hold)
    per_stage = {}
    for name in sorted(set(s_hold)):
        mask = np.array([s == name for s in s_hold])
        model_brier = float(np.mean((p_hold[mask] - y_hold[mask]) ** 2))
        default_brier = float(np.mean((d_hold[mask] - y_hold[mask]) ** 2))
        per_stage[name] = {
            "n": int(mask.sum()),
            "model_brier": round(model_brier, 4),
            "default_brier": round(default_brier, 4),
            "use_model": bool(mask.sum() >= 5 and model_brier < default_brier),
        }
    return ScoreModel.objects.create(
        target=Target.OPPORTUNITY,
        trained_at=now,
        outcomes=len(y),
        positives=pos,
        usable=any(s["use_model"] for s in per_stage.values()),
        trained_by=actor,
        message=""
        if any(s["use_model"] for s in per_stage.values())
        else "The stage defaults are as good or better on the holdout; they stay.",
        metrics={
            "model": trained.metrics,
            "baseline": trained.baseline,
            "stage_default": stage_default,
            "stages": per_stage,
            "n_train": trained.n_train,
            "n_holdout": trained.n_holdout,
        },
        blob=pickle.dumps({"model": trained.model, "explainer": trained.explainer, "rates": rates}),
    )


def score_opportunities(ids: list[int] | None = None) -> int:
    """Win probability of open deals: the model where it beat the stage default on the
    holdout, the stage default elsewhere."""
    from rapport.activities.models import Activity
    from rapport.sales.models import Opportunity

    sm = current_model(Target.OPPORTUNITY)
    loaded = _loaded(sm) if sm is not None and sm.usable else None
    use = {k for k, v in (sm.metrics.get("stages", {}) if sm else {}).items() if v.get("use_model")}
    qs = Opportunity.objects.filter(stage__kind="open")
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    all_ids = list(qs.order_by("id").values_list("id", flat=True))
    now = timezone.now()
    n = 0
    for start in range(0, len(all_ids), BATCH):
        chunk = all_ids[start : start + BATCH]
        rows = list(
            Opportunity.objects.filter(pk__in=chunk).values(
                "id",
                "owner_id",
                "amount",
                "source",
                "created_at",
                "stage_changed_at",
                "stage__name",
                "stage__probability",
            )
        )
        last = dict(
            Activity.objects.filter(opportunity_id__in=chunk, occurred_at__lte=now)
            .values("opportunity_id")
            .annotate(m=Max("occurred_at"))
            .values_list("opportunity_id", "m")
        )
        feats = [
            opp_features(
                stage=r["stage__name"],
                source=r["source"],
                amount=r["amount"],
                created_at=r["created_at"],
                at=now,
                entered_at=r["stage_changed_at"],
                last_activity=last.get(r["id"]),
                owner_rate=_owner_rate(loaded["rates"], r["owner_id"]) if loaded else 0.5,
            )
            for r in rows
        ]
        probs = learn.predict(loaded["model"], feats) if loaded else None
        why = learn.reasons(loaded["explainer"], feats) if loaded else None
        out = []
        for i, r in enumerate(rows):
            if probs is not None and r["stage__name"] in use:
                out.append(
                    OpportunityScore(
                        opportunity_id=r["id"],
                        probability=round(float(probs[i]) * 100),
                        learned=float(probs[i]),
                        source="model",
                        reasons=why[i],
                        scored_at=now,
                    )
                )
            else:
                out.append(
                    OpportunityScore(
                        opportunity_id=r["id"],
                        probability=r["stage__probability"],
                        learned=float(probs[i]) if probs is not None else None,
                        source="stage",
                        reasons=[],
                        scored_at=now,
                    )
                )
        OpportunityScore.objects.bulk_create(
            out,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["opportunity"],
            update_fields=["probability", "learned", "source", "reasons", "scored_at"],
        )
        n += len(out)
    return n


def retrain_all(*, actor=None) -> dict:
    lead_model = train_leads(actor=actor)
    opp_model = train_opportunities(actor=actor)
    return {
        "lead_model": lead_model.pk,
        "opportunity_model": opp_model.pk,
        "leads_scored": score_leads(),
        "opportunities_scored": score_opportunities(),
    }
