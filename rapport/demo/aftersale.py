"""Demo data of the after-sale branch: portal users, answered CSAT/NPS surveys, complaints
and returns in every state. Kept small (a few seconds of the demo build).

Portal users sign in with a magic link: ask for one at /portal/login/ with their address;
with the default console mail backend the link is printed by the mail worker
(`manage.py run_worker`, or `send_due` in a shell) on the server's console."""

import datetime
import random
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.cases.models import Case, CaseCategory
from rapport.mail.models import Delivery, DeliveryState
from rapport.orders.models import OrderLine
from rapport.portal.models import PortalAccountSetting, PortalUser
from rapport.returns import services as returns
from rapport.returns.models import ReturnStatus
from rapport.surveys import services as surveys
from rapport.surveys.models import NpsSurvey, SurveyInvitation

PATHS = {
    ReturnStatus.REQUESTED: [],
    ReturnStatus.APPROVED: ["approved"],
    ReturnStatus.REJECTED: ["rejected"],
    ReturnStatus.RECEIVED: ["approved", "received"],
    ReturnStatus.INSPECTED: ["approved", "received", "inspected"],
    ReturnStatus.REFUNDED: ["approved", "received", "inspected", "refunded"],
    ReturnStatus.REPLACED: ["approved", "received", "inspected", "replaced"],
    ReturnStatus.REPAIRED: ["approved", "received", "inspected", "repaired"],
}
CODES = ["refund", "replacement", "repair", "explanation", "goodwill"]
COMMENTS = ["Quick and friendly", "Took too long", "Solved at once", "", "", ""]


def _answer(rng, invitation, score, at):
    surveys.answer(invitation=invitation, score=score, comment=rng.choice(COMMENTS))
    SurveyInvitation.objects.filter(pk=invitation.pk).update(sent_at=at, answered_at=at)


def demo_aftersale(*, admin, agents, contacts, seed: int = 42) -> dict:
    rng = random.Random(seed)
    now = timezone.now()
    counts = {}
    with transaction.atomic():
        # Complaints: a category, and some resolved cases in it with a resolution code.
        complaint = CaseCategory.objects.create(name="Complaint", is_complaint=True, position=9)
        resolved = list(Case.objects.filter(resolved_at__isnull=False).order_by("pk")[:40])
        for case in rng.sample(resolved, k=min(25, len(resolved))):
            Case.objects.filter(pk=case.pk).update(
                category=complaint, resolution_code=rng.choice(CODES)
            )
        # CSAT: the listener wrote one survey per resolved case of a contact with an address;
        # date them at the resolution, answer about half, and mark the old mails as sent.
        invitations = list(
            SurveyInvitation.objects.filter(kind="csat").select_related("case").order_by("pk")
        )
        for invitation in invitations:
            at = invitation.case.resolved_at or now
            SurveyInvitation.objects.filter(pk=invitation.pk).update(
                sent_at=at, category_id=invitation.case.category_id
            )
            if rng.random() < 0.55:
                score = rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 5, 6])[0]
                _answer(rng, invitation, score, at + datetime.timedelta(hours=rng.randint(1, 30)))
        # NPS two weeks after an order.
        nps = NpsSurvey.objects.create(
            name="Two weeks after the order", days_after_order=14, created_by=admin
        )
        for contact in contacts[:60]:
            order = contact.orders.order_by("-ordered_at").first()
            if order is None or not contact.email:
                continue
            invitation = surveys._nps_invite(nps, contact, order)
            if invitation is not None and rng.random() < 0.6:
                score = rng.choices(range(11), weights=[1, 1, 1, 1, 2, 2, 3, 5, 8, 8, 7])[0]
                at = order.ordered_at + datetime.timedelta(days=14, hours=rng.randint(1, 48))
                _answer(rng, invitation, score, min(at, now))
        Delivery.objects.filter(
            message__template__name__in=[surveys.CSAT_TEMPLATE, surveys.NPS_TEMPLATE]
        ).update(state=DeliveryState.SENT, sent_at=now)
        counts["survey answers"] = SurveyInvitation.objects.filter(
            answered_at__isnull=False
        ).count()

        # Portal users: three contacts with an address (the first sees the company's cases).
        people = [c for c in contacts if c.email][:3]
        for i, contact in enumerate(people):
            PortalUser.objects.get_or_create(
                contact=contact, defaults={"email": contact.email.lower(), "invited_by": admin}
            )
            if i == 0 and contact.account_id:
                PortalAccountSetting.objects.update_or_create(
                    account_id=contact.account_id, defaults={"company_cases": True}
                )
        counts["portal users"] = len(people)

        # Returns in every state, from order lines of products.
        lines = list(
            OrderLine.objects.filter(product__isnull=False, quantity__gte=1)
            .select_related("order", "product")
            .order_by("pk")[:200]
        )
        agent = agents[0]
        made = 0
        for path in PATHS.values():
            for _ in range(2):
                line = rng.choice(lines) if lines else None
                if line is None:
                    break
                try:
                    row = returns.return_create(
                        actor=agent,
                        fields={
                            "order_line": line,
                            "quantity": Decimal("1"),
                            "reason": rng.choice(["defective", "damaged", "wrong_item", "other"]),
                            "condition": rng.choice(["used", "damaged", "defective", "as_new"]),
                            "disposition": rng.choice(["refund", "replacement", "repair"]),
                            "description": "Demo return",
                        },
                    )
                except ValidationError:  # the line is already fully returned: skip it
                    continue
                for step in path:
                    row = returns.return_transition(row=row, status=step, actor=agent)
                made += 1
        counts["returns"] = made
    return counts
