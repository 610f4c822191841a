"""The search benches' "typical rep": one query shared by bench_search.py and bench_personas.py."""

from __future__ import annotations


def top_rep_id() -> int | None:
    """The active sales rep who owns the most contacts, not a bench-made user (on a
    demo_data database one of the demo reps, ~1/6 of a million contacts); None if no rep
    owns any. Call after django.setup()."""
    from django.db.models import Count

    from rapport.accounts.models import Contact
    from rapport.identity.models import Role

    top = (
        Contact.objects.filter(owner__role=Role.SALES_REP, owner__is_active=True)
        .exclude(owner__username__startswith="bench-")
        .values("owner_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    return top["owner_id"] if top else None
