"""Staff pages of returns: list, a new return (from an order line or an asset, or a picker
of both), detail with the allowed actions, the returns card of account and contact pages,
metrics."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from rapport.records.exceptions import RecordNotFound
from rapport.returns import selectors, services
from rapport.returns.forms import ReturnForm
from rapport.returns.models import ReturnStatus
from rapport.web.decorators import ui_view
from rapport.web.forms import error_messages


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


def _account_of(request, source):
    from rapport.accounts.selectors import account_get_for_user

    pk = str(source.get("account") or "")
    if not pk:
        return None
    if not pk.isdigit() or len(pk) > 18:
        raise RecordNotFound("account")
    return account_get_for_user(pk=int(pk), user=request.user)


@ui_view
@require_http_methods(["GET", "POST"])
def return_new(request):
    """GET without a source: pick an order line or an installed product (of an account, or
    by search); with `order_line` or `asset`: the form. POST creates through the service."""
    services.require_staff(request.user)
    source = request.POST if request.method == "POST" else request.GET
    line = asset = case = None
    if source.get("order_line"):
        line = selectors.return_order_line_get(pk=source["order_line"], user=request.user)
    elif source.get("asset"):
        asset = selectors.return_asset_get(pk=source["asset"], user=request.user)
    else:
        account = _account_of(request, source)
        q = (source.get("q") or "").strip()[:100]
        lines, assets = selectors.return_sources(request.user, account=account, q=q)
        return render(
            request,
            "returns/pick.html",
            {"account": account, "q": q, "lines": lines, "assets": assets},
        )
    if source.get("case"):
        from rapport.cases.selectors import case_get_for_user

        pk = str(source["case"])
        if not pk.isdigit() or len(pk) > 18:
            raise RecordNotFound("case")
        case = case_get_for_user(pk=int(pk), user=request.user)
    form = ReturnForm(request.POST or None, line=line, asset=asset)
    if request.method == "POST" and form.is_valid():
        try:
            row = services.return_create(
                actor=request.user,
                fields={**form.cleaned_data, "order_line": line, "asset": asset, "case": case},
            )
        except ValidationError as exc:
            for field, texts in error_messages(exc).items():
                target = {"order_line_id": None}.get(field, field)
                for text in texts:
                    form.add_error(target if target in form.fields else None, text)
        else:
            messages.success(request, f"Return {row.number} requested.")
            return redirect("returns:detail", row.pk)
    context = {"form": form, "line": line, "asset": asset, "case": case}
    return render(request, "returns/new.html", context, status=422 if form.errors else 200)


@ui_view
@require_safe
def record_returns(request, object_type: str, pk: int):
    """The "Returns" card on an account's or a contact's page (htmx)."""
    from rapport.accounts.selectors import customer_get_for_user

    record = customer_get_for_user(object_type=object_type, pk=pk, user=request.user)
    qs = selectors.returns_of_visible_parent(**{object_type: record})
    context = {
        "rows": list(qs[:10]),
        "total": qs.count(),
        "object_type": object_type,
        "record": record,
        "account_id": record.pk if object_type == "account" else record.account_id,
    }
    return render(request, "returns/_record_returns.html", context)


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
