"""The shell's own pages: home, global search, saved views. Sign-in and API tokens are
in auth_views.py."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST

from rapport.accounts.selectors import account_list, contact_list
from rapport.activities.models import ActivityKind
from rapport.activities.selectors import activity_list
from rapport.leads.selectors import lead_list
from rapport.sales.selectors import opportunity_list
from rapport.web.decorators import ui_view
from rapport.web.forms import SavedViewForm
from rapport.web.links import record_url
from rapport.web.listing import safe_next
from rapport.web.selectors import saved_view_get_for_user
from rapport.web.services import saved_view_create, saved_view_delete

SEARCH_LIMIT = 10


@ui_view
def home(request):
    """Start of the day: my open tasks (overdue first) and the accounts I touched lately."""
    user = request.user
    tasks = list(
        activity_list(user=user, mine=True, kind=[ActivityKind.TASK], done=False)
        .select_related("account", "contact", "lead", "opportunity")
        .order_by("due_at", "id")[:15]
    )
    now = timezone.now()
    for task in tasks:
        task.overdue = bool(task.due_at and task.due_at < now)
        task.subject_record = task.account or task.contact or task.lead or task.opportunity
        task.subject_url = record_url(task.subject_record)
    recent = list(account_list(user=user, owner_id=user.pk).order_by("-updated_at", "-id")[:8])
    return render(
        request,
        "web/home.html",
        {
            "tasks": tasks,
            "recent_accounts": [(a, record_url(a)) for a in recent],
        },
    )


def _search_group(label: str, qs, describe) -> dict:
    rows = list(qs[: SEARCH_LIMIT + 1])
    return {
        "label": label,
        "items": [(r, record_url(r), describe(r)) for r in rows[:SEARCH_LIMIT]],
        "more": len(rows) > SEARCH_LIMIT,
    }


@ui_view
def search(request):
    """Results of the header search, grouped by type; only records the user may see."""
    q = (request.GET.get("q") or "").strip()[:200]
    groups = []
    if q:
        user = request.user
        groups = [
            _search_group(
                "Accounts",
                account_list(user=user, q=q).order_by("name", "id"),
                lambda a: " · ".join(x for x in (a.industry, a.city) if x),
            ),
            _search_group(
                "Contacts",
                contact_list(user=user, q=q).order_by("last_name", "first_name", "id"),
                lambda c: " · ".join(
                    x for x in (c.account.name if c.account else "", c.email) if x
                ),
            ),
            _search_group(
                "Leads",
                lead_list(user=user, q=q).order_by("last_name", "id"),
                lambda lead: " · ".join(x for x in (lead.get_status_display(), lead.email) if x),
            ),
            _search_group(
                "Opportunities",
                opportunity_list(user=user, q=q).order_by("name", "id"),
                lambda o: " · ".join(
                    x for x in (o.stage.name, o.account.name if o.account else "") if x
                ),
            ),
        ]
    return render(
        request,
        "web/search.html",
        {"q": q, "groups": groups, "total": sum(len(g["items"]) for g in groups)},
    )


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
