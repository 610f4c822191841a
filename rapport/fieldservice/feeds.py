"""iCalendar feeds (a technician's work orders; a user's meetings and tasks) behind a
secret URL, and vCard export of contacts.

Tokens: 32 random bytes (URL-safe base64) in the URL; only their SHA-256 is stored, so a
database read does not give the feeds away. Rotating replaces the hash: the old URL is a
404 at once. The URL is shown once, when it is made.

Calendars are built with the `icalendar` library, every time in UTC (DTSTART…Z: no
VTIMEZONE needed, which Google, Apple and Outlook all read); UIDs are stable
(`work-order-<id>@<host>`), SEQUENCE is the row's version (it grows with every change, so
clients replace their copy) and LAST-MODIFIED its update time. Tasks are all-day events on
their due day (Google Calendar ignores VTODO).
"""

import datetime
import hashlib

import vobject
from django.db import transaction
from django.utils import timezone
from icalendar import Calendar, Event

from rapport.activities.models import Activity, ActivityKind
from rapport.activities.selectors import activities_visible_to
from rapport.fieldservice.models import CalendarFeed, FeedKind, WorkOrderStatus, new_feed_token
from rapport.fieldservice.selectors import work_orders_visible_to
from rapport.identity.models import User

PAST_DAYS = 60
FUTURE_DAYS = 400
MAX_EVENTS = 2000
PRODID = "-//Rapport CRM//Rapport//EN"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_rotate(*, user: User, kind: str) -> str:
    """A new secret token for the user's feed of `kind` (the old one stops working)."""
    if kind not in FeedKind.values:
        raise ValueError(kind)
    token = new_feed_token()
    with transaction.atomic():
        CalendarFeed.objects.filter(user=user, kind=kind).delete()
        CalendarFeed.objects.create(user=user, kind=kind, token_hash=_hash(token))
    return token


def feed_revoke(*, user: User, kind: str) -> None:
    CalendarFeed.objects.filter(user=user, kind=kind).delete()


def feed_user(*, token: str, kind: str) -> User | None:
    """The active user whose feed of `kind` this token opens, else None (→ 404)."""
    if not token or len(token) > 100:
        return None
    feed = (
        CalendarFeed.objects.filter(token_hash=_hash(token), kind=kind)
        .select_related("user")
        .first()
    )
    if feed is None or not feed.user.is_active:
        return None
    now = timezone.now()
    if feed.last_used_at is None or now - feed.last_used_at > datetime.timedelta(minutes=10):
        CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)
    return feed.user


def feeds_of(user: User) -> dict[str, CalendarFeed]:
    return {f.kind: f for f in CalendarFeed.objects.filter(user=user)}


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-published-ttl", "PT1H")
    cal.add("refresh-interval", datetime.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    return cal


def _utc(value: datetime.datetime) -> datetime.datetime:
    return value.astimezone(datetime.UTC)


def _window():
    now = timezone.now()
    return now - datetime.timedelta(days=PAST_DAYS), now + datetime.timedelta(days=FUTURE_DAYS)


def work_orders_calendar(*, user: User, host: str, base_url: str = "") -> bytes:
    """The technician's scheduled work orders."""
    start, end = _window()
    qs = (
        work_orders_visible_to(user)
        .filter(technician=user, scheduled_start__gte=start, scheduled_start__lte=end)
        .select_related("account", "contact")
        .order_by("scheduled_start", "id")[:MAX_EVENTS]
    )
    cal = _calendar(f"Work orders · {user}")
    stamp = _utc(timezone.now())
    for wo in qs:
        event = Event()
        event.add("uid", f"work-order-{wo.pk}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", _utc(wo.scheduled_start))
        finish = wo.scheduled_end or wo.scheduled_start + datetime.timedelta(hours=1)
        event.add("dtend", _utc(finish))
        event.add("sequence", wo.version)
        event.add("last-modified", _utc(wo.updated_at))
        event.add("created", _utc(wo.created_at))
        event.add("summary", f"{wo.label} {wo.title}")
        if wo.address:
            event.add("location", wo.address)
        lines = [f"Status: {wo.get_status_display()}"]
        customer = wo.account or wo.contact
        if customer is not None:
            lines.append(f"Customer: {customer}")
        if wo.notes:
            lines.append(wo.notes)
        if base_url:
            url = f"{base_url}/field/work-orders/{wo.pk}/"
            event.add("url", url)
            lines.append(url)
        event.add("description", "\n".join(lines))
        event.add(
            "status",
            {
                WorkOrderStatus.CANCELLED: "CANCELLED",
                WorkOrderStatus.NEW: "TENTATIVE",
            }.get(wo.status, "CONFIRMED"),
        )
        cal.add_component(event)
    return cal.to_ical()


def activities_calendar(*, user: User, host: str, base_url: str = "") -> bytes:
    """The user's meetings (owned or attended) and open tasks (all-day on their due day)."""
    start, end = _window()
    visible = activities_visible_to(user)
    meetings = (
        visible.filter(kind=ActivityKind.MEETING, starts_at__gte=start, starts_at__lte=end).filter(
            pk__in=Activity.objects.filter(owner=user).values("pk")
        )
        | visible.filter(
            kind=ActivityKind.MEETING,
            starts_at__gte=start,
            starts_at__lte=end,
            attendee_users=user,
        )
    ).distinct()
    tasks = visible.filter(kind=ActivityKind.TASK, owner=user, due_at__gte=start, due_at__lte=end)
    cal = _calendar(f"Meetings and tasks · {user}")
    stamp = _utc(timezone.now())
    count = 0
    for activity in meetings.order_by("starts_at", "id")[:MAX_EVENTS]:
        event = Event()
        event.add("uid", f"activity-{activity.pk}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", _utc(activity.starts_at))
        finish = activity.ends_at or activity.starts_at + datetime.timedelta(hours=1)
        event.add("dtend", _utc(max(finish, activity.starts_at)))
        event.add("sequence", activity.version)
        event.add("last-modified", _utc(activity.updated_at))
        event.add("summary", activity.subject or "Meeting")
        if activity.location:
            event.add("location", activity.location)
        if activity.body:
            event.add("description", activity.body)
        if base_url:
            event.add("url", f"{base_url}/activities/{activity.pk}/")
        event.add("status", "CONFIRMED")
        cal.add_component(event)
        count += 1
    for activity in tasks.order_by("due_at", "id")[: max(0, MAX_EVENTS - count)]:
        due = timezone.localtime(activity.due_at).date()
        event = Event()
        event.add("uid", f"activity-{activity.pk}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", due)
        event.add("dtend", due + datetime.timedelta(days=1))
        event.add("sequence", activity.version)
        event.add("last-modified", _utc(activity.updated_at))
        event.add("summary", f"{'✓ ' if activity.done else ''}Task: {activity.subject or 'Task'}")
        event.add("transp", "TRANSPARENT")
        if base_url:
            event.add("url", f"{base_url}/activities/{activity.pk}/")
        cal.add_component(event)
    return cal.to_ical()


# ----- vCard ------------------------------------------------------------------------------


def contact_vcard(contact, *, emails=None, phones=None) -> str:
    """One contact as a vCard 3.0 (what Apple, Google and Outlook all import)."""
    card = vobject.vCard()
    card.add("fn").value = contact.full_name or contact.last_name or "—"
    card.add("n").value = vobject.vcard.Name(family=contact.last_name, given=contact.first_name)
    if contact.title:
        card.add("title").value = contact.title
    from rapport.records.visibility import shown

    account = shown(contact, "account")  # the company only when the reader may see it
    if account is not None:
        card.add("org").value = [account.name]
    emails = emails if emails is not None else [contact.email] if contact.email else []
    for i, address in enumerate(emails):
        item = card.add("email")
        item.value = address
        item.type_param = ["INTERNET", "PREF"] if i == 0 else ["INTERNET"]
    phones = phones if phones is not None else [contact.phone] if contact.phone else []
    for number in phones:
        card.add("tel").value = number
    if any((contact.street, contact.city, contact.postal_code, contact.country)):
        adr = card.add("adr")
        adr.value = vobject.vcard.Address(
            street=contact.street,
            city=contact.city,
            region=contact.region,
            code=contact.postal_code,
            country=contact.country,
        )
    card.add("uid").value = f"rapport-contact-{contact.pk}"
    card.add("rev").value = _utc(contact.updated_at).strftime("%Y%m%dT%H%M%SZ")
    return card.serialize()


def contacts_vcards(contacts) -> str:
    """Several contacts in one .vcf file (their emails and phones in two queries)."""
    from rapport.accounts.models import ContactEmail, ContactPhone

    contacts = list(contacts)
    ids = [c.pk for c in contacts]
    emails: dict[int, list[str]] = {}
    for row in ContactEmail.objects.filter(contact_id__in=ids).order_by("-is_primary", "id"):
        emails.setdefault(row.contact_id, []).append(row.email)
    phones: dict[int, list[str]] = {}
    for row in ContactPhone.objects.filter(contact_id__in=ids).order_by("-is_primary", "id"):
        phones.setdefault(row.contact_id, []).append(row.number)
    out = []
    for contact in contacts:
        mail = emails.get(contact.pk) or ([contact.email] if contact.email else [])
        tel = phones.get(contact.pk) or ([contact.phone] if contact.phone else [])
        out.append(contact_vcard(contact, emails=mail, phones=tel))
    return "".join(out)
