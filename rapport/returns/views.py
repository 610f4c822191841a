"""Staff pages of returns: list, detail with the allowed actions, metrics."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from rapport.returns import selectors, services
from rapport.returns.models import ReturnStatus
from rapport.web.decorators import ui_view


@ui_view
def return_list(request):
    status = request.GET.get("status") or ""
    if status not in ReturnStatus.values:
        status = ""
    rows = selectors.return_list(request.user, status=status or None)[:200]
    return render(
        request,
        "returns/list.html",
        {"rows": rows, "status": status, "statuses": ReturnStatus.choices},
    )


@ui_view
def return_detail(request, pk: int):
    row = selectors.return_get_for_user(pk=pk, user=request.user)
    actions = [(s, ReturnStatus(s).label) for s in services.TRANSITIONS[row.status]]
    actions.sort(key=lambda a: list(ReturnStatus.values).index(a[0]))
    return render(
        request,
        "returns/detail.html",
        {"row": row, "actions": actions, "events": selectors.return_timeline(row)},
    )


@ui_view
@require_POST
def return_move(request, pk: int):
    row = selectors.return_get_for_user(pk=pk, user=request.user)
    try:
        services.return_transition(
            row=row,
            status=request.POST.get("status", ""),
            actor=request.user,
            note=request.POST.get("note", ""),
        )
    except ValidationError as exc:
        for msgs in exc.message_dict.values():
            for message in msgs:
                messages.error(request, message)
    else:
        messages.success(request, f"{row.number}: {row.get_status_display()}")
    return redirect("returns:detail", row.pk)


@ui_view
def metrics(request):
    return render(request, "returns/metrics.html", {"m": selectors.metrics(request.user)})
