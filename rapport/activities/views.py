"""Activity pages: my tasks (complete and reopen in place), the activity list, the calendar
of meetings, and the activity page with its form.

Thin: reads go through `rapport.activities.selectors` (an activity is visible with any
record it links, and to its owner), writes through `rapport.activities.services`. A linked
record is only named where the user may see it (an activity visible through its contact
does not reveal a private account's name).
"""

import calendar
import datetime
from urllib.parse import urlparse

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.views.decorators.http import require_POST

from rapport.accounts.selectors import contacts_visible_to
from rapport.activities.calendar_grid import hour_grid
from rapport.activities.forms import (
    CREATABLE_KINDS,
    LINK_FIELDS,
    SERVICE_FIELD_MAP,
    ActivityFilterForm,
    ActivityForm,
    CalendarForm,
)
from rapport.activities.models import ActivityKind
from rapport.activities.selectors import (
    ACTIVITY_PARENTS,
    ACTIVITY_SORTS,
    activity_editable,
    activity_get_for_user,
    activity_list,
    activity_page_sources,
)
from rapport.activities.services import (
    activity_complete,
    activity_delete,
    activity_log,
    activity_reopen,
    activity_update,
)
from rapport.identity.selectors import users_for
from rapport.notifications.forms import reminder_label
from rapport.records.exceptions import PermissionDenied, RecordNotFound, StaleVersion
from rapport.records.visibility import shown, with_shown_links
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.links import record_url
from rapport.web.listing import (
    BulkAction,
    Column,
    ListConfig,
    created_column,
    owner_column,
    safe_next,
)
from rapport.web.listing import list_views as shared_list_views
from rapport.web.record_page import STALE_MESSAGE, display_datetime

LINKS = tuple(ACTIVITY_PARENTS)  # account, contact, lead, opportunity
TASK_SECTION_LIMIT = 50
CALENDAR_LIMIT = 1000
CALENDAR_CELL_LIMIT = 4


def with_visible_links(qs, user):
    """Join the linked records and mark which of them the user may see (`seen_<link>`),
    in the same query: a page names only the records its reader may see."""
    return with_shown_links(qs, user, *LINKS)


def linked_records(activity) -> list:
    """The records the activity is about that the reader may see (needs `with_visible_links`)."""
    return [record for record in (shown(activity, field) for field in LINKS) if record]


def about(activity):
    records = linked_records(activity)
    return records[0] if records else None


def _detail_url(activity) -> str:
    return reverse("activities:activity_detail", args=[activity.pk])


def task_state(activity, now=None) -> str:
    """open, overdue or done for tasks; '' for other kinds."""
    if activity.kind != ActivityKind.TASK:
        return ""
    if activity.done:
        return "done"
    now = now or timezone.now()
    return "overdue" if activity.due_at and activity.due_at < now else "open"


def _back(request, default: str) -> str:
    """Where a one-click action returns without JavaScript: `next`, else the page it came
    from (same site only), else `default`."""
    target = request.POST.get("next") or request.GET.get("next")
    if not target:
        referer = urlparse(request.META.get("HTTP_REFERER", ""))
        if referer.netloc == request.get_host() and referer.path:
            target = referer.path + (f"?{referer.query}" if referer.query else "")
    return safe_next(request, target, default)


# ----- the list ---------------------------------------------------------------------------


def _list_selector(*, user, deleted=False, **filters):
    # Activities have no trash; the list needs neither attendees nor a second query for them.
    return with_visible_links(activity_list(user=user, **filters).prefetch_related(None), user)


def _page_sources(*, user, deleted=False, **filters):
    sources = activity_page_sources(user=user, **filters)
    if sources is None:
        return None
    per_row, every = sources
    return with_visible_links(per_row.prefetch_related(None), user), every


def _own_part(*, user, deleted=False, **filters):
    """The user's own rows of the list (its count may stop there: capped_count)."""
    return activity_list(user=user, **{**filters, "mine": True})


def _about_text(activity) -> str:
    record = about(activity)
    return str(record) if record is not None else ""


STATE_LABELS = {"open": "Open", "overdue": "Overdue", "done": "Done"}

ACTIVITIES = ListConfig(
    object_type="activity",
    singular="Activity",
    plural="Activities",
    namespace="activities",
    selector=_list_selector,
    count_within=_own_part,
    page_sources=_page_sources,
    sorts=ACTIVITY_SORTS,
    default_sort="-occurred_at",
    filter_form=ActivityFilterForm,
    related=("owner",),
    bulk_actions=("assign", "complete", "delete"),
    custom_bulk={
        "assign": BulkAction(
            "Assign owner",
            "reassigned",
            lambda record, actor, data: activity_update(
                activity=record, actor=actor, fields={}, owner=data["owner_id"]
            ),
            needs="owner_id",
        ),
        "complete": BulkAction(
            "Mark done",
            "marked done",
            lambda record, actor, data: activity_complete(activity=record, actor=actor),
        ),
        "delete": BulkAction(
            "Delete",
            "deleted",
            lambda record, actor, data: activity_delete(activity=record, actor=actor),
        ),
    },
    # The services refuse what the user may not change; those rows count as skipped.
    bulk_targets=lambda qs, user: qs,
    template="activities/activity_list.html",
    columns=[
        Column(
            "subject",
            "Subject",
            lambda a: a.subject or a.get_kind_display(),
            link=_detail_url,
        ),
        Column("kind", "Kind", lambda a: a.get_kind_display()),
        Column("about", "About", _about_text, link=lambda a: record_url(about(a))),
        owner_column(),
        Column("when", "When", lambda a: a.occurred_at, kind="date", sort="occurred_at"),
        Column("due", "Due", lambda a: a.due_at, kind="date"),
        Column("status", "Status", lambda a: STATE_LABELS.get(task_state(a), "")),
        Column("priority", "Priority", lambda a: a.get_priority_display(), default=False),
        created_column(default=False),
    ],
    empty_text="No activities match. Log one from a record page, or clear the filters.",
)

_list = shared_list_views(ACTIVITIES)
activity_list_view = _list["list"]
activity_export_view = _list["export"]
activity_bulk_view = _list["bulk"]


# ----- my tasks ----------------------------------------------------------------------------


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _tasks(qs, limit=TASK_SECTION_LIMIT) -> tuple[list, bool]:
    rows = list(qs[: limit + 1])
    return rows[:limit], len(rows) > limit


@ui_view
def my_tasks(request):
    """Today's work: my open tasks that are overdue, due today, upcoming or undated, and
    the ones done today (to reopen a slip of the finger)."""
    user = request.user
    now = timezone.now()
    today = timezone.localdate()
    tomorrow = _day_start(today + datetime.timedelta(days=1))
    mine = with_visible_links(
        activity_list(user=user, mine=True, kind=[ActivityKind.TASK]).prefetch_related(None),
        user,
    )
    open_tasks = mine.filter(done=False)
    list_url = reverse("activities:activity_list")
    base_query = f"?owner_id={user.pk}&kind=task&done=false"
    sections = [
        (
            "overdue",
            "Overdue",
            open_tasks.filter(due_at__lt=now).order_by("due_at", "id"),
            f"{base_query}&due_to={(today - datetime.timedelta(days=1)).isoformat()}",
            "Nothing overdue.",
        ),
        (
            "today",
            "Due today",
            open_tasks.filter(due_at__gte=now, due_at__lt=tomorrow).order_by("due_at", "id"),
            f"{base_query}&due_from={today.isoformat()}&due_to={today.isoformat()}",
            "Nothing else due today.",
        ),
        (
            "upcoming",
            "Upcoming",
            open_tasks.filter(due_at__gte=tomorrow).order_by("due_at", "id"),
            f"{base_query}&due_from={(today + datetime.timedelta(days=1)).isoformat()}",
            "Nothing planned after today.",
        ),
        (
            "undated",
            "No due date",
            open_tasks.filter(due_at__isnull=True).order_by("-created_at", "-id"),
            base_query,
            "",
        ),
        (
            "done",
            "Done today",
            mine.filter(done=True, done_at__gte=_day_start(today)).order_by("-done_at", "-id"),
            f"?owner_id={user.pk}&kind=task&done=true",
            "",
        ),
    ]
    context_sections = []
    for key, title, qs, query, empty in sections:
        tasks, more = _tasks(qs)
        context_sections.append(
            {
                "key": key,
                "title": title,
                "tasks": [_task_row(t, now) for t in tasks],
                "more": more,
                "more_url": list_url + query,
                "empty": empty,
            }
        )
    quick_due = f"{(today + datetime.timedelta(days=1)).isoformat()}T09:00"
    return render(
        request,
        "activities/my_tasks.html",
        {
            "sections": context_sections,
            "quick_due": quick_due,
            "open_count": _open_count(open_tasks),
        },
    )


def _open_count(qs) -> int:
    return qs.order_by().count()


def due_text(due: datetime.datetime | None) -> str:
    """ "today, 14:00", "tomorrow, 09:00", "Thu 26 Nov, 09:00" (local time)."""
    if due is None:
        return ""
    local = timezone.localtime(due)
    days = (local.date() - timezone.localdate()).days
    day = {0: "today", 1: "tomorrow", -1: "yesterday"}.get(days)
    if day is None:
        day = dateformat.format(local, "D j M" if abs(days) < 300 else "D j M Y")
    return f"{day}, {dateformat.format(local, 'H:i')}"


def _task_row(task, now=None) -> dict:
    record = about(task)
    return {
        "task": task,
        "state": task_state(task, now),
        "due": due_text(task.due_at),
        "about": record,
        "about_url": record_url(record),
        "url": _detail_url(task),
    }


def _one_activity(request, pk: int, *related: str):
    """The visible activity with its visible links marked, else RecordNotFound (404)."""
    # One row: its visibility probed (few), not the sets of every visible record (~0.35 s
    # for a rep at a million contacts).
    qs = activity_list(user=request.user, few=True).prefetch_related(None).select_related(*related)
    activity = with_visible_links(qs, request.user).filter(pk=pk).first()
    if activity is None:
        activity_get_for_user(pk=pk, user=request.user)  # raises RecordNotFound
    return activity


def _task_toggle(request, pk: int, *, complete: bool):
    activity = _one_activity(request, pk)
    name = activity.subject or activity.get_kind_display()
    try:
        if complete:
            changed = activity_complete(activity=activity, actor=request.user)
        else:
            changed = activity_reopen(activity=activity, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        if is_htmx(request):
            return render_fragment(request, "web/_toasts_oob.html", status=422)
        return HttpResponseRedirect(_back(request, _detail_url(activity)))
    if changed and complete:
        undo = reverse("activities:activity_reopen", args=[pk])
        messages.success(request, f"Completed “{name}”.", extra_tags=f"undo:{undo}")
    elif changed:
        messages.success(request, f"Reopened “{name}”.")
    if is_htmx(request):
        activity = _one_activity(request, pk)
        page = safe_next(request, request.htmx.current_url_abs_path, "")
        open_tasks = activity_list(
            user=request.user, mine=True, kind=[ActivityKind.TASK], done=False
        )
        context = {
            "row": _task_row(activity),
            "next": page,
            "open_count": _open_count(open_tasks),
            "count_oob": True,
        }
        return render_fragment(request, "activities/_task_row.html", context)
    return HttpResponseRedirect(_back(request, reverse("activities:tasks")))


@ui_view
@require_POST
def activity_complete_view(request, pk: int):
    return _task_toggle(request, pk, complete=True)


@ui_view
@require_POST
def activity_reopen_view(request, pk: int):
    return _task_toggle(request, pk, complete=False)


# ----- the calendar --------------------------------------------------------------------------


def _month_shift(day: datetime.date, months: int) -> datetime.date:
    month_index = day.year * 12 + day.month - 1 + months
    return datetime.date(month_index // 12, month_index % 12 + 1, 1)


def calendar_weeks(view: str, day: datetime.date) -> tuple[list[list[datetime.date]], dict]:
    """The weeks (Monday first) the view shows around `day`, and its title and neighbours
    (a day view is one week of one day)."""
    if view == "month":
        weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(day.year, day.month)
        nav = {
            "title": dateformat.format(day, "F Y"),
            "previous": _month_shift(day, -1),
            "next": _month_shift(day, 1),
        }
        return weeks, nav
    if view == "day":
        nav = {
            "title": dateformat.format(day, "D j M Y"),
            "previous": day - datetime.timedelta(days=1),
            "next": day + datetime.timedelta(days=1),
        }
        return [[day]], nav
    start = day - datetime.timedelta(days=day.weekday())
    week = [start + datetime.timedelta(days=i) for i in range(7)]
    end = week[-1]
    same_month = start.month == end.month
    first = dateformat.format(start, "j" if same_month else "j M")
    nav = {
        "title": f"{first} – {dateformat.format(end, 'j M Y')}",
        "previous": start - datetime.timedelta(days=7),
        "next": start + datetime.timedelta(days=7),
    }
    return [week], nav


def _calendar_activities(user, first: datetime.date, last: datetime.date, who: str) -> list:
    """Meetings starting and tasks due between the two days (whole days), in time order:
    at most CALENDAR_LIMIT of them. "me": the meetings I own or was invited to and my tasks;
    a user's id: theirs that I may see; "all": everyone's that I may see.

    Each query is narrowed by time (and owner or invitation) through an index, so the rows
    are checked for visibility one by one (`few`) or not at all (my own)."""
    meetings = {"kind": [ActivityKind.MEETING], "occurred_from": first, "occurred_to": last}
    tasks = {"kind": [ActivityKind.TASK], "due_from": first, "due_to": last}
    if who == "me":
        queries = [
            activity_list(user=user, mine=True, **meetings).order_by("occurred_at", "id"),
            activity_list(user=user, few=True, **meetings)
            .filter(attendee_users=user)
            .exclude(owner_id=user.pk)
            .order_by("occurred_at", "id"),
            activity_list(user=user, mine=True, **tasks).order_by("due_at", "id"),
        ]
    else:
        owner_id = int(who) if who.isdigit() else None
        queries = [
            activity_list(user=user, owner_id=owner_id, few=True, **meetings).order_by(
                "occurred_at", "id"
            ),
            activity_list(user=user, owner_id=owner_id, few=True, **tasks).order_by("due_at", "id"),
        ]
    found = []
    for qs in queries:
        found += with_visible_links(qs, user).prefetch_related(None)[:CALENDAR_LIMIT]
    found.sort(key=lambda a: (a.due_at if a.kind == ActivityKind.TASK else a.occurred_at, a.pk))
    return found[:CALENDAR_LIMIT]


def _calendar_item(activity, now) -> dict:
    is_task = activity.kind == ActivityKind.TASK
    start = activity.due_at if is_task else activity.occurred_at
    end = None if is_task else activity.ends_at
    return {
        "kind": "task" if is_task else "meeting",
        "activity": activity,
        "title": activity.subject or ("Task" if is_task else "Meeting"),
        "start": start,
        "end": end,
        "url": _detail_url(activity),
        "about": about(activity),
        "location": "" if is_task else activity.location,
        "done": is_task and activity.done,
        "past": (end or start) < now if not is_task else activity.done,
        "overdue": is_task and not activity.done and start < now,
    }


def _local_day(value: datetime.datetime) -> datetime.date:
    return timezone.localtime(value).date()


@ui_view
def calendar_view(request):
    """Meetings and tasks due in a day or week hour grid or a month grid, drawn on the
    server (works without JavaScript)."""
    user = request.user
    form = CalendarForm(request.GET or None, user=user)
    view = form.value("view", "week")
    today = timezone.localdate()
    day = form.value("date", today)
    who = form.value("who", "me")
    weeks, nav = calendar_weeks(view, day)
    first, last = weeks[0][0], weeks[-1][-1]
    activities = _calendar_activities(user, first, last, who)
    by_day: dict[datetime.date, list] = {}
    now = timezone.now()
    for activity in activities:
        item = _calendar_item(activity, now)
        by_day.setdefault(_local_day(item["start"]), []).append(item)
    grid = [
        [
            {
                "date": d,
                "items": by_day.get(d, []),
                "shown": by_day.get(d, [])[:CALENDAR_CELL_LIMIT] if view == "month" else [],
                "hidden": max(0, len(by_day.get(d, [])) - CALENDAR_CELL_LIMIT),
                "today": d == today,
                "outside": view == "month" and d.month != day.month,
                "week_url": _calendar_query(request, view="week", date=d.isoformat()),
                "day_url": _calendar_query(request, view="day", date=d.isoformat()),
            }
            for d in week
        ]
        for week in weeks
    ]
    hours = hour_grid(weeks[0], by_day, today) if view != "month" else None
    for column in hours["columns"] if hours else ():
        column.day_url = _calendar_query(request, view="day", date=column.date.isoformat())
    meeting_count = sum(1 for a in activities if a.kind == ActivityKind.MEETING)
    context = {
        "form": form,
        "view": view,
        "day": day,
        "who": who,
        "grid": grid,
        "hours": hours,
        "nav": nav,
        "meeting_count": meeting_count,
        "task_count": len(activities) - meeting_count,
        "item_count": len(activities),
        "truncated": len(activities) >= CALENDAR_LIMIT,
        "previous_url": _calendar_query(request, date=nav["previous"].isoformat()),
        "next_url": _calendar_query(request, date=nav["next"].isoformat()),
        "today_url": _calendar_query(request, date=None),
        "day_url": _calendar_query(request, view="day"),
        "week_url": _calendar_query(request, view="week"),
        "month_url": _calendar_query(request, view="month"),
        "new_meeting_url": reverse("activities:activity_create") + "?kind=meeting",
        "new_task_url": reverse("activities:activity_create") + "?kind=task",
    }
    return render(request, "activities/calendar.html", context)


def _calendar_query(request, **changes) -> str:
    params = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return reverse("activities:calendar") + (f"?{encoded}" if encoded else "")


# ----- the activity page and its form ---------------------------------------------------------


def _facts(activity) -> list[tuple[str, str]]:
    kind = activity.kind
    facts = [("Kind", activity.get_kind_display())]
    if kind == ActivityKind.TASK:
        facts += [
            ("Due", display_datetime(activity.due_at) or "No date"),
            ("Priority", activity.get_priority_display()),
        ]
        if activity.done_at:
            facts.append(("Done", display_datetime(activity.done_at)))
    elif kind == ActivityKind.MEETING:
        facts.append(("Starts", display_datetime(activity.starts_at)))
        if activity.ends_at:
            facts.append(("Ends", display_datetime(activity.ends_at)))
        if activity.location:
            facts.append(("Location", activity.location))
    else:
        facts.append(("When", display_datetime(activity.occurred_at)))
    if kind in (ActivityKind.TASK, ActivityKind.MEETING):
        facts.append(("Reminder", reminder_label(activity.reminder_minutes)))
    if activity.direction:
        facts.append(("Direction", activity.get_direction_display()))
    if activity.outcome:
        facts.append(("Outcome", activity.get_outcome_display()))
    if activity.duration_seconds:
        facts.append(("Duration", f"{max(1, round(activity.duration_seconds / 60))} min"))
    if activity.channel:
        facts.append(("Channel", activity.get_channel_display()))
    return facts


@ui_view
def activity_detail(request, pk: int):
    user = request.user
    activity = _one_activity(request, pk, "owner", "created_by")
    records = [
        (r, record_url(r), r._meta.verbose_name.capitalize()) for r in linked_records(activity)
    ]
    attendees, colleagues = [], []
    if activity.kind == ActivityKind.MEETING:
        contacts = contacts_visible_to(user).filter(meetings_attended=activity)
        attendees = [(c, record_url(c)) for c in contacts.order_by("last_name", "id")]
        colleagues = list(users_for(user).filter(meetings_attended=activity))
    first = about(activity)
    others_url = ""
    if first is not None:
        field = first._meta.model_name
        others_url = reverse("activities:activity_list") + f"?{field}_id={first.pk}"
    context = {
        "activity": activity,
        "state": task_state(activity),
        "facts": _facts(activity),
        "records": records,
        "attendees": attendees,
        "colleagues": colleagues,
        "attendee_count": len(attendees) + len(colleagues),
        "can_edit": activity_editable(activity=activity, user=user),
        "others_url": others_url,
        "about": about(activity),
    }
    return render(request, "activities/activity_detail.html", context)


def _form_page(request, form, *, activity=None, status=200, next_url=""):
    kinds = [(k, ActivityKind(k).label) for k in CREATABLE_KINDS]
    context = {
        "form": form,
        "activity": activity,
        "kind": form.kind,
        "kind_label": ActivityKind(form.kind).label,
        "kinds": kinds,
        "next": next_url,
    }
    return render(request, "activities/activity_form.html", context, status=status)


def _int_param(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


@ui_view
def activity_create(request):
    """A new task, call, meeting, email or note; linked to an account or, for a task, my own."""
    source = request.POST if request.method == "POST" else request.GET
    kind = source.get("kind") or ActivityKind.TASK
    if kind not in CREATABLE_KINDS:
        kind = ActivityKind.TASK
    next_url = safe_next(request, source.get("next"), "")
    links = {link: _int_param(request.GET.get(name)) for name, link in LINK_FIELDS.items()}
    if request.method != "POST":
        form = ActivityForm(user=request.user, kind=kind, links=links)
        return _form_page(request, form, next_url=next_url)
    form = ActivityForm(request.POST, user=request.user, kind=kind)
    activity = None
    if form.is_valid():
        try:
            activity, _ = activity_log(
                actor=request.user,
                kind=kind,
                fields=form.activity_fields(),
                links=form.links(),
                owner=form.cleaned_data["owner"],
                **form.attendees(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc, SERVICE_FIELD_MAP)
    if activity is None:
        return _form_page(request, form, status=422, next_url=next_url)
    messages.success(
        request, f"{activity.get_kind_display()} “{activity.subject or 'note'}” saved."
    )
    return HttpResponseRedirect(next_url or _detail_url(activity))


@ui_view
def activity_edit(request, pk: int):
    activity = activity_get_for_user(pk=pk, user=request.user)
    if not activity_editable(activity=activity, user=request.user):
        raise PermissionDenied("You may not change this activity")
    if request.method != "POST":
        form = ActivityForm(user=request.user, kind=activity.kind, record=activity)
        return _form_page(request, form, activity=activity)
    form = ActivityForm(request.POST, user=request.user, kind=activity.kind, record=activity)
    saved = False
    if form.is_valid():
        try:
            activity_update(
                activity=activity,
                actor=request.user,
                fields=form.activity_fields(),
                links=form.links(),
                owner=form.cleaned_data["owner"],
                expected_version=form.cleaned_data.get("version"),
                **form.attendees(),
            )
            saved = True
        except StaleVersion:
            form.add_error(None, STALE_MESSAGE)
        except ValidationError as exc:
            add_service_errors(form, exc, SERVICE_FIELD_MAP)
    if not saved:
        return _form_page(request, form, activity=activity, status=422)
    messages.success(request, f"{activity.get_kind_display()} saved.")
    try:
        activity_get_for_user(pk=pk, user=request.user)
    except RecordNotFound:  # given away to someone who alone may see it now
        return HttpResponseRedirect(reverse("activities:tasks"))
    return HttpResponseRedirect(_detail_url(activity))


@ui_view
@require_POST
def activity_delete_view(request, pk: int):
    activity = activity_get_for_user(pk=pk, user=request.user)
    name = activity.subject or activity.get_kind_display()
    activity_delete(activity=activity, actor=request.user)
    messages.success(request, f"Deleted {activity.get_kind_display().lower()} “{name}”.")
    return HttpResponseRedirect(reverse("activities:activity_list"))
