"""Demo quotes: tax rates, a few quotes in each state (one waiting for a manager's approval,
sent ones with their PDF, one the customer accepted)."""

import random
from decimal import Decimal

from rapport.identity.models import User
from rapport.quotes import services
from rapport.quotes.models import TaxRate
from rapport.sales.models import Opportunity, StageKind


def demo_quotes(*, admin: User, seed: int = 42) -> int:
    rng = random.Random(seed + 7)
    TaxRate.objects.bulk_create(
        [
            TaxRate(name="VAT standard", rate=Decimal("19"), country="DE"),
            TaxRate(name="VAT standard", rate=Decimal("20"), country="FR"),
            TaxRate(name="VAT standard", rate=Decimal("21"), country="NL"),
            TaxRate(name="Sales tax", rate=Decimal("0")),
            TaxRate(
                name="VAT reduced", rate=Decimal("7"), country="DE", product_category="Training"
            ),
        ]
    )
    candidates = list(
        Opportunity.objects.filter(stage__kind=StageKind.OPEN, line_items__isnull=False)
        .select_related("owner", "primary_contact", "account")
        .distinct()
        .order_by("id")[:40]
    )
    rng.shuffle(candidates)
    made = 0
    for i, opportunity in enumerate(candidates[:8]):
        owner = opportunity.owner
        quote = services.quote_create(opportunity=opportunity, actor=owner)
        made += 1
        if quote.needs_approval:
            if i % 2:
                continue  # left for a manager to approve
            services.quote_approve(quote=quote, actor=admin)
        contact = opportunity.primary_contact
        if i < 3 and contact is not None and contact.email:
            services.quote_send(quote=quote, actor=owner, to=contact.email, message="As discussed.")
            if i == 0:
                services.quote_decide(quote=quote, accept=True, note="Please go ahead.")
    return made


PLAYBOOK = {
    "Prospecting": [
        ("Research the account", "Industry, size, recent news"),
        ("Find the decision maker", ""),
    ],
    "Qualification": [
        ("Confirm budget and timeline", "Budget owner, amount, when"),
        ("Identify the champion", "Who wants this to happen inside?"),
    ],
    "Proposal": [
        ("Send the quote", "From the line items: Quotes card"),
        ("Agree next meeting", ""),
    ],
    "Negotiation": [("Review terms with legal", ""), ("Get a verbal yes", "")],
}


def demo_playbooks(*, admin: User) -> int:
    from rapport.playbooks.services import step_add
    from rapport.sales.models import Stage

    made = 0
    for stage in Stage.objects.filter(pipeline__is_default=True, name__in=PLAYBOOK):
        for text, hint in PLAYBOOK[stage.name]:
            step_add(actor=admin, stage=stage, text=text, hint=hint)
            made += 1
    return made
