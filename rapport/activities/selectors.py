"""Reads for activities: visible through any linked record, or to their owner."""

import datetime

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from rapport.accounts.models import Account, Contact
from rapport.activities.models import Activity, ActivityKind
from rapport.identity.models import User
from rapport.leads.models import Lead
from rapport.records.exceptions import RecordNotFound
from rapport.records.selectors import date_bound, text_filter
from rapport.records.visibility import editable, reads_nothing, visible_through_parents
from rapport.sales.models import Opportunity

ACTIVITY_SORTS = {"occurred_at", "created_at"}  # due_at is nullable: no keyset on it
ACTIVITY_PARENTS = {
    "account": Account,
    "contact": Contact,
    "lead": Lead,
    "opportunity": Opportunity,
}


def activity_base() -> QuerySet[Activity]:
    """Activities with their attendees' ids prefetched (what the API output needs)."""
    return Activity.objects.prefetch_related(
        Prefetch("attendee_contacts", queryset=Contact.all_objects.only("id")),
        Prefetch("attendee_users", queryset=User.objects.only("id")),
    )


def activities_visible_to(user: User, *, per_row: bool = False) -> QuerySet[Activity]:
    """Activities linked to a record the user sees, and those the user owns (`per_row`:
    see visible_through_parents)."""
    return visible_through_parents(
        activity_base(), user, ACTIVITY_PARENTS, own_field="owner_id", per_row=per_row
    )


def activities_owned_by(user: User) -> QuerySet[Activity]:
    """The activities `user` owns: every one of them is in activities_visible_to(user)."""
    if reads_nothing(user):
        return activity_base().none()
    return activity_base().filter(owner_id=user.pk)


def activity_list(
    *,
    user: User,
    q: str | None = None,
    kind: list[str] | None = None,
    owner_id: int | None = None,
    mine: bool = False,
    account_id: int | None = None,
    contact_id: int | None = None,
    lead_id: int | None = None,
    opportunity_id: int | None = None,
    done: bool | None = None,
    overdue: bool = False,
    due_from: datetime.datetime | datetime.date | None = None,
    due_to: datetime.datetime | datetime.date | None = None,
    occurred_from: datetime.datetime | datetime.date | None = None,
    occurred_to: datetime.datetime | datetime.date | None = None,
    channel: list[str] | None = None,
    few: bool = False,
    _unchecked: bool = False,
) -> QuerySet[Activity]:
    """Visible activities narrowed by the filters (lists mean any of; a date bound includes
    the whole day; overdue = tasks not done whose due time has passed). `few`: the filters
    leave few rows through an index (one owner's week), so visibility is checked per row
    rather than against the sets of every visible record (visible_through_parents).
    `_unchecked` (activity_page_sources only): the filters without visibility."""
    if _unchecked:
        qs = activity_base()
    elif mine or owner_id == user.pk:
        # The user's own activities are visible to them whatever they are linked to
        # (activities_visible_to grants the owner): the visibility ORs would only cost. For
        # a rep at 1M contacts and 20M activities, "my tasks" took 30-55 s with them (the
        # planner could not drop them for `owner_id = me`), milliseconds without.
        qs = activities_owned_by(user)
    else:
        qs = activities_visible_to(user, per_row=few)
    if kind:
        qs = qs.filter(kind__in=kind)
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    if mine:
        qs = qs.filter(owner_id=user.pk)
    for field, value in (
        ("account_id", account_id),
        ("contact_id", contact_id),
        ("lead_id", lead_id),
        ("opportunity_id", opportunity_id),
    ):
        if value is not None:
            qs = qs.filter(**{field: value})
    if done is not None:
        qs = qs.filter(done=done)
    if overdue:
        qs = qs.filter(kind=ActivityKind.TASK, done=False, due_at__lt=timezone.now())
    qs = date_bound(qs, "due_at", due_from, "gte")
    qs = date_bound(qs, "due_at", due_to, "lte")
    qs = date_bound(qs, "occurred_at", occurred_from, "gte")
    qs = date_bound(qs, "occurred_at", occurred_to, "lte")
    if channel:
        qs = qs.filter(channel__in=channel)
    return text_filter(qs, q, ["subject"])


def activity_page_sources(*, user: User, **filters) -> tuple[QuerySet, QuerySet] | None:
    """activity_list(user=user, **filters) for keyset_page(prefix_first=…): the same rows
    with their visibility probed row by row, and the same filters WITHOUT visibility, whose
    rows are never shown (keyset_page reads only where its PREFIX_ROWS-th row is). None
    when the list checks no visibility (the user's own rows, an administrator) or shows
    nothing. A rep's first page then probes a few hundred rows instead of building the sets
    of every record they see (~0.35 s at a million contacts)."""
    if reads_nothing(user) or user.is_admin:
        return None
    if filters.get("mine") or filters.get("owner_id") == user.pk:
        return None
    if filters.get("q"):
        # No index serves a subject substring: finding the 2,000th match would scan as far
        # as the page itself (5 s for a rare word at 20M activities), for nothing.
        return None
    every = activity_list(user=user, _unchecked=True, **filters)
    return activity_list(user=user, few=True, **filters), every


def activity_get_for_user(*, pk: int, user: User) -> Activity:
    """The activity if `user` may see it, else RecordNotFound (404). One row: its links are
    probed (per_row), not matched against the sets of every record the user sees."""
    try:
        return activities_visible_to(user, per_row=True).get(pk=pk)
    except (Activity.DoesNotExist, ValueError, TypeError, OverflowError):
        raise RecordNotFound("activity")


def activity_editable(*, activity: Activity, user: User) -> bool:
    """Writers may change an activity they own or one linked to a record they may change."""
    if not user.is_active or user.is_read_only:
        return False
    if user.is_admin or activity.owner_id == user.pk:
        return True
    for field, model in ACTIVITY_PARENTS.items():
        pk = getattr(activity, f"{field}_id")
        if pk and editable(model.objects.filter(pk=pk), user).exists():
            return True
    return False
