"""Writes of the clickstream: one page view of an identified, consenting visitor, added to
their current session (or a new one after a 30-minute gap) and its timeline event."""

from __future__ import annotations

import datetime
import re
from urllib.parse import parse_qsl, urlsplit

from django.db import transaction
from django.utils import timezone

from rapport.campaigns.models import Campaign
from rapport.timeline.models import EventKind, TimelineEvent
from rapport.timeline.services import timeline_record
from rapport.webtrack.models import PageView, WebSession

SESSION_GAP = datetime.timedelta(minutes=30)
MAX_PAGES_IN_EVENT = 50
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def campaign_by_utm(name: str | None) -> Campaign | None:
    """The campaign a utm_campaign value names: its `utm_campaign`, or "campaign-<id>" (what
    the campaigns' click redirect writes for a campaign without one)."""
    name = (name or "").strip()
    if not name:
        return None
    found = Campaign.objects.filter(utm_campaign=name).first()
    if found is None:
        match = re.fullmatch(r"campaign-(\d+)", name)
        if match:
            found = Campaign.objects.filter(pk=int(match.group(1))).first()
    return found


def utm_of(url: str) -> dict:
    query = dict(parse_qsl(urlsplit(url).query))
    return {k: query[k][:200] for k in UTM_KEYS if query.get(k)}


def strip_token(url: str) -> str:
    """The page address without the visitor token (never stored)."""
    parts = urlsplit(url)
    if "rpv=" not in parts.query:
        return url
    query = "&".join(p for p in parts.query.split("&") if not p.startswith("rpv="))
    return parts._replace(query=query).geturl()


def tracking_allowed(person) -> bool:
    """The person opted in to the tracking purpose on the ledger's web channel (website
    tracking); an email opt-in to the same purpose is consent to mail, not to tracking."""
    from rapport.consent.models import Channel, ConsentStatus
    from rapport.consent.selectors import current_status, tracking_purpose

    purpose = tracking_purpose()
    if purpose is None:
        return False
    return current_status(person, purpose=purpose, channel=Channel.WEB) == ConsentStatus.OPTED_IN


def _summary(session: WebSession) -> str:
    pages = "page" if session.page_count == 1 else "pages"
    return f"Visited the website: {session.page_count} {pages}"


def page_view_record(
    *, person, url: str, title: str = "", referrer: str = "", at=None
) -> WebSession:
    """Add a page view to the person's open session (or start one) and update the session's
    timeline event (one per session, with the list of pages)."""
    at = at or timezone.now()
    url = strip_token(url)[:1000]
    is_contact = type(person).__name__ == "Contact"
    link = {"contact": person} if is_contact else {"lead": person}
    with transaction.atomic():
        session = (
            WebSession.objects.select_for_update()
            .filter(**link, last_at__gte=at - SESSION_GAP)
            .order_by("-last_at", "-id")
            .first()
        )
        if session is None:
            utm = utm_of(url)
            campaign = campaign_by_utm(utm.get("utm_campaign"))
            session = WebSession.objects.create(
                **link,
                started_at=at,
                last_at=at,
                landing_url=url,
                referrer=referrer[:1000],
                utm=utm,
                campaign=campaign,
            )
        PageView.objects.create(
            session=session, occurred_at=at, url=url, title=title[:300], referrer=referrer[:1000]
        )
        session.page_count += 1
        session.last_at = max(session.last_at, at)
        pages = [
            {"url": v.url, "title": v.title, "at": v.occurred_at.isoformat()}
            for v in session.views.order_by("occurred_at", "id")[:MAX_PAGES_IN_EVENT]
        ]
        payload = {
            "session_id": session.pk,
            "pages": pages,
            "page_count": session.page_count,
            "utm": session.utm,
            "referrer": session.referrer,
            "duration_s": int((session.last_at - session.started_at).total_seconds()),
        }
        if session.event_id is None:
            event = timeline_record(
                subject=person,
                kind=EventKind.WEB_SESSION,
                summary=_summary(session),
                payload=payload,
                occurred_at=session.started_at,
                campaign_id=session.campaign_id,
            )
            session.event = event
        else:
            TimelineEvent.objects.filter(pk=session.event_id).update(
                summary=_summary(session), payload=payload
            )
        session.save(update_fields=["page_count", "last_at", "event"])
    return session
