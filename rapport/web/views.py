"""The shell's own pages: home (the dashboard), global search and its typeahead, saved
views. Sign-in and API tokens are in auth_views.py."""

import contextlib
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST, require_safe

from rapport.activities.selectors import activity_get_for_user
from rapport.activities.services import activity_complete, activity_reopen
from rapport.forecasts.selectors import quota_card
from rapport.records.exceptions import StaleVersion
from rapport.search.selectors import search_typeahead
from rapport.web import dashboard
from rapport.web.decorators import ui_view
from rapport.web.forms import SavedViewForm
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.listing import safe_next
from rapport.web.pickers import LABELS, PICKER_LIMIT
from rapport.web.selectors import saved_view_get_for_user
from rapport.web.services import saved_view_create, saved_view_delete

SEARCH_PAGE_LIMIT = 20  # the search service's maximum per type
SUGGEST_LIMIT = 5
SEARCH_MAX_LENGTH = 200
SEARCH_TYPES = {
    # type: (group label, list URL name, its conventional path while the page is not built)
    "account": ("Accounts", "accounts:account_list", "/accounts/"),
    "contact": ("Contacts", "accounts:contact_list", "/contacts/"),
    "lead": ("Leads", "leads:lead_list", "/leads/"),
    "opportunity": ("Opportunities", "sales:opportunity_list", "/opportunities/"),
    "article": ("Knowledge articles", "knowledge:home", "/knowledge/"),
}
TASK_STALE = "Someone else changed this task meanwhile: reload the page and try again."


# ----- home -------------------------------------------------------------------------


@ui_view
@require_safe
def home(request):
    """Start of the day: my tasks due today and overdue, my open pipeline by stage, won
    revenue by month (charts with their data tables) and recent activity on my records."""
    user = request.user
    convert = dashboard.Converter()  # the exchange rates are read once, if at all
    pipeline = dashboard.pipeline_by_stage(user=user, convert=convert)
    won = dashboard.won_by_month(user=user, convert=convert)
    return render(
        request,
        "web/home.html",
        {
            "tasks": dashboard.dashboard_tasks(user=user),
            "pipeline": pipeline,
            "won": won,
            "events": dashboard.recent_events(user=user),
            "scope": dashboard.scope_label(user),
            "chart_data": dashboard.chart_data(pipeline, won),
            "quota": quota_card(user),
        },
    )


def _task_done_toggle(request, pk: int, *, done: bool):
    task = activity_get_for_user(pk=pk, user=request.user)
    version = request.POST.get("version", "")
    change = activity_complete if done else activity_reopen
    try:
        change(
            activity=task,
            actor=request.user,
            expected_version=int(version) if version.isdigit() else None,
        )
    except StaleVersion:
        messages.error(request, TASK_STALE)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        label = task.subject or task.get_kind_display()
        messages.success(request, f"“{label}” {'completed' if done else 'reopened'}.")
    if not is_htmx(request):
        return HttpResponseRedirect(safe_next(request, request.POST.get("next"), "/"))
    task = dashboard.dashboard_task(user=request.user, pk=pk)
    response = render_fragment(request, "web/home/_task.html", {"task": task})
    # The "due today or overdue" number at the top listens for this and reloads itself.
    response["HX-Trigger"] = "tasks-changed"
    return response


@ui_view
@require_safe
def task_stat(request):
    """The home page's count of tasks due today or overdue (refreshed in place)."""
    tasks = dashboard.dashboard_tasks(user=request.user)
    return render(request, "web/home/_task_stat.html", {"tasks": tasks})


@ui_view
@require_POST
def task_complete(request, pk: int):
    """Complete one of my tasks from the dashboard (in place with htmx)."""
    return _task_done_toggle(request, pk, done=True)


@ui_view
@require_POST
def task_reopen(request, pk: int):
    """Undo a completion made on the dashboard."""
    return _task_done_toggle(request, pk, done=False)


# ----- search -----------------------------------------------------------------------


def _list_url(object_type: str, q: str) -> str:
    _label, name, base = SEARCH_TYPES[object_type]
    with contextlib.suppress(NoReverseMatch):
        base = reverse(name)
    return f"{base}?{urlencode({'q': q})}"


def _search_groups(user, q: str, limit: int) -> list[dict]:
    """The search service's groups (the same call as GET /api/search), labelled."""
    groups = search_typeahead(user=user, q=q, limit=limit, similar=True)
    # The knowledge base's articles (internal and public; drafts for their editors only),
    # through the same search service index.
    from rapport.knowledge.selectors import article_search_hits

    groups.append({"type": "article", "items": article_search_hits(user=user, q=q, limit=limit)})
    return [
        {
            "type": group["type"],
            "similar": group.get("similar", False),
            "label": SEARCH_TYPES[group["type"]][0],
            "items": group["items"],
            "full": len(group["items"]) >= limit,
            "list_url": _list_url(group["type"], q),
        }
        for group in groups
    ]


def _search_q(request) -> str:
    return (request.GET.get("q") or "").strip()[:SEARCH_MAX_LENGTH]


@ui_view
@require_safe
def search(request):
    """Results of the header search, grouped by type; only records the user may see."""
    q = _search_q(request)
    groups = _search_groups(request.user, q, SEARCH_PAGE_LIMIT) if q else []
    return render(
        request,
        "web/search.html",
        {
            "q": q,
            "search_q": q,
            "groups": groups,
            "total": sum(len(g["items"]) for g in groups),
            "similar": any(g["similar"] and g["items"] for g in groups),
        },
    )


@ui_view
@require_safe
def search_suggest(request):
    """The typeahead under the header's search box: a few hits per type."""
    q = _search_q(request)
    groups = _search_groups(request.user, q, SUGGEST_LIMIT) if q else []
    return render(
        request,
        "web/search/_suggestions.html",
        {
            "q": q,
            "groups": [g for g in groups if g["items"]],
            "similar": any(g["similar"] and g["items"] for g in groups),
        },
    )


@ui_view
def picker_options(request, object_type: str):
    """A record picker's suggestions: the best few records of one type the user may see."""
    if object_type not in LABELS:
        raise Http404("unknown record type")
    q = next((v for k, v in request.GET.items() if k.endswith("__q") or k == "q"), "")
    q = q.strip()[:200]
    groups = search_typeahead(
        user=request.user, q=q, types=[object_type], limit=PICKER_LIMIT, similar=True
    )
    items = groups[0]["items"] if q and groups else []
    return render(
        request,
        "web/_picker_options.html",
        {"items": items, "q": q, "plural": LABELS[object_type][1]},
    )


@require_safe
def favicon(request):
    """/favicon.ico, which browsers and feed readers ask for without reading the page's
    <link rel="icon">: the static file itself (public, cached for a day)."""
    path = finders.find("web/favicon.ico")
    if not path:
        raise Http404("no favicon")
    response = FileResponse(open(path, "rb"), content_type="image/x-icon")  # noqa: SIM115
    response["Cache-Control"] = "public, max-age=86400"
    return response


@ui_view
@require_POST
def saved_view_save(request):
    form = SavedViewForm(request.POST)
    back = safe_next(request, request.POST.get("next"), "/")
    if not form.is_valid():
        messages.error(request, "Give the view a name (at most 60 characters).")
        return HttpResponseRedirect(back)
    data = form.cleaned_data
    try:
        view = saved_view_create(
            user=request.user,
            object_type=data["object_type"],
            name=data["name"],
            query=data["query"],
            columns=data["columns"].split(","),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return HttpResponseRedirect(back)
    messages.success(request, f"View “{view.name}” saved.")
    return HttpResponseRedirect(back.split("?", 1)[0] + "?" + view.list_query())


@ui_view
@require_POST
def saved_view_remove(request, pk: int):
    view = saved_view_get_for_user(pk=pk, user=request.user)
    saved_view_delete(view=view)
    messages.success(request, f"View “{view.name}” deleted.")
    back = safe_next(request, request.POST.get("next"), "/")
    return HttpResponseRedirect(back.split("?", 1)[0])
