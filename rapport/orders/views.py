"""Order pages: the list, the order page (lines, total, customer, status change) and the
order form with its line rows.

Thin: reads through `rapport.orders.selectors` (an order is visible with its account or
its contact), writes through `rapport.orders.services` (the total is the sum of the lines,
computed there, never in the browser). A customer is only named where the reader may see
it: an order visible through its contact does not reveal a private account.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.orders.forms import (
    LineRows,
    OrderFilterForm,
    OrderForm,
    product_choices,
    rows_from_post,
)
from rapport.orders.models import OrderLine, OrderStatus
from rapport.orders.selectors import (
    ORDER_PARENTS,
    ORDER_SORTS,
    order_get_for_user,
    order_list,
    order_page_sources,
    order_parents_editable,
)
from rapport.orders.services import order_create, order_delete, order_update
from rapport.records.exceptions import Conflict, PermissionDenied, StaleVersion
from rapport.records.visibility import shown, with_shown_links
from rapport.web.decorators import ui_view
from rapport.web.forms import error_messages
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.links import record_url
from rapport.web.listing import BulkAction, Column, ListConfig, created_column
from rapport.web.listing import list_views as shared_list_views
from rapport.web.record_page import STALE_MESSAGE

CUSTOMERS = tuple(ORDER_PARENTS)  # account, contact
STATUS_STYLE = {
    OrderStatus.PLACED: "info",
    OrderStatus.PAID: "success",
    OrderStatus.SHIPPED: "success",
    OrderStatus.CANCELLED: "danger",
    OrderStatus.REFUNDED: "warning",
}


def with_visible_customers(qs, user):
    """Join account and contact and mark which of them the user may see (`seen_<field>`)."""
    return with_shown_links(qs, user, *CUSTOMERS)


def seen(order, field: str):
    """The order's account or contact when the reader may see it, else None."""
    return shown(order, field)


def order_label(order) -> str:
    return order.external_id or f"#{order.pk}"


def _detail_url(order) -> str:
    return reverse("orders:order_detail", args=[order.pk])


# ----- the list ---------------------------------------------------------------------------


def _list_selector(*, user, deleted=False, **filters):
    # Orders have no trash (a cancelled order keeps its row with status=cancelled).
    return with_visible_customers(order_list(user=user, **filters), user)


def _page_sources(*, user, deleted=False, **filters):
    sources = order_page_sources(user=user, **filters)
    if sources is None:
        return None
    per_row, every = sources
    return with_visible_customers(per_row, user), every


def _customer_column(field: str, label: str) -> Column:
    return Column(
        field,
        label,
        lambda o: str(seen(o, field) or ""),
        link=lambda o: record_url(seen(o, field)),
    )


ORDERS = ListConfig(
    object_type="order",
    singular="Order",
    plural="Orders",
    namespace="orders",
    selector=_list_selector,
    page_sources=_page_sources,
    sorts=ORDER_SORTS,
    default_sort="-ordered_at",
    filter_form=OrderFilterForm,
    related=(),
    bulk_actions=("paid", "shipped", "cancelled", "delete"),
    custom_bulk={
        **{
            status: BulkAction(
                label,
                f"marked {status}",
                lambda record, actor, data, status=status: order_update(
                    order=record, actor=actor, fields={"status": status}
                ),
            )
            for status, label in (
                (OrderStatus.PAID, "Mark paid"),
                (OrderStatus.SHIPPED, "Mark shipped"),
                (OrderStatus.CANCELLED, "Cancel"),
            )
        },
        "delete": BulkAction(
            "Delete",
            "deleted",
            lambda record, actor, data: order_delete(order=record, actor=actor),
        ),
    },
    # Rows are the visible orders; the services refuse a customer the user may not change.
    bulk_targets=lambda qs, user: qs,
    template="orders/order_list.html",
    columns=[
        Column("order", "Order", order_label, link=_detail_url),
        Column("date", "Date", lambda o: o.ordered_at, kind="date", sort="ordered_at"),
        _customer_column("account", "Account"),
        _customer_column("contact", "Contact"),
        Column("channel", "Channel", lambda o: o.get_channel_display()),
        Column("status", "Status", lambda o: o.get_status_display()),
        Column("lines", "Lines", lambda o: len(o.lines.all()), kind="number", default=False),
        Column(
            "total",
            "Total",
            lambda o: o.total,
            kind="money",
            currency=lambda o: o.currency,
            sort="total",
        ),
        created_column(default=False),
    ],
    empty_text="No orders match. Record an order, or clear the filters.",
)

_list = shared_list_views(ORDERS)
order_list_view = _list["list"]
order_export_view = _list["export"]
order_bulk_view = _list["bulk"]


# ----- the order page -----------------------------------------------------------------------


def _order_page_qs(user):
    lines = OrderLine.objects.select_related("product").order_by("id")
    qs = order_list(user=user).prefetch_related(None).prefetch_related(Prefetch("lines", lines))
    return with_visible_customers(qs.select_related("created_by"), user)


def _load(request, pk: int):
    order = _order_page_qs(request.user).filter(pk=pk).first()
    if order is None:
        order_get_for_user(pk=pk, user=request.user)  # raises RecordNotFound (404)
    return order


def _can_edit(order, user) -> bool:
    return order_parents_editable(
        user=user, account_id=order.account_id, contact_id=order.contact_id
    )


def _status_context(order, can_edit: bool, error: str = "") -> dict:
    return {
        "order": order,
        "can_edit": can_edit,
        "status_style": STATUS_STYLE.get(order.status, "info"),
        "status_choices": OrderStatus.choices,
        "status_error": error,
    }


@ui_view
def order_detail(request, pk: int):
    order = _load(request, pk)
    can_edit = _can_edit(order, request.user)
    account, contact = seen(order, "account"), seen(order, "contact")
    lines = [
        (line, record_url(line.product) if line.product_id else "") for line in order.lines.all()
    ]
    context = {
        **_status_context(order, can_edit),
        "label": order_label(order),
        "account": account,
        "account_url": record_url(account),
        "contact": contact,
        "contact_url": record_url(contact),
        "lines": lines,
        "customer_orders_url": _customer_orders_url(account, contact),
    }
    return render(request, "orders/order_detail.html", context)


def _customer_orders_url(account, contact) -> str:
    base = reverse("orders:order_list")
    if account is not None:
        return f"{base}?account_id={account.pk}"
    if contact is not None:
        return f"{base}?contact_id={contact.pk}"
    return ""


@ui_view
@require_POST
def order_status(request, pk: int):
    """Change the status with the version the page showed; in place with htmx."""
    order = _load(request, pk)
    status = request.POST.get("status", "")
    version = request.POST.get("version", "")
    error = ""
    if status not in OrderStatus.values:
        error = "Choose one of the statuses."
    else:
        try:
            diff = order_update(
                order=order,
                actor=request.user,
                fields={"status": status},
                expected_version=int(version) if version.isdigit() else None,
            )
            if diff:
                messages.success(
                    request, f"Order {order_label(order)} is now {order.get_status_display()}."
                )
        except StaleVersion:
            error = STALE_MESSAGE
    if error and not is_htmx(request):
        messages.error(request, error)
    if is_htmx(request):
        order = _load(request, pk)
        context = _status_context(order, _can_edit(order, request.user), error)
        return render_fragment(
            request, "orders/_status.html", context, status=409 if error else 200
        )
    return HttpResponseRedirect(_detail_url(order))


@ui_view
@require_POST
def order_delete_view(request, pk: int):
    order = _load(request, pk)
    order_delete(order=order, actor=request.user)
    messages.success(request, f"Order {order_label(order)} deleted.")
    return HttpResponseRedirect(reverse("orders:order_list"))


# ----- create and edit -------------------------------------------------------------------------


def _int(value) -> int | None:
    value = str(value or "")
    return int(value) if value.isdigit() and len(value) < 19 else None


def _rows_for(request, order=None) -> tuple[LineRows, bool]:
    """The line rows: redrawn after "add a line" / "remove line i" (unbound, no errors shown),
    else bound to the posted rows. Returns (rows, redraw)."""
    action = request.POST.get("lines_action", "")
    extra_ids = [line.product_id for line in order.lines.all() if line.product_id] if order else []
    choices = product_choices(extra_ids)
    if not action:
        return LineRows(data=request.POST, choices=choices), False
    rows = rows_from_post(request.POST)
    if action == "add":
        rows.append({"quantity": "1"})
    elif action.startswith("remove-") and action[7:].isdigit():
        index = int(action[7:])
        if index < len(rows):
            rows.pop(index)
    if not rows:
        rows.append({"quantity": "1"})
    return LineRows(initial=rows, choices=choices), True


def _apply_errors(form, rows: LineRows, exc: ValidationError) -> None:
    targets = {"account_id": "account", "contact_id": "contact"}
    for field, texts in error_messages(exc).items():
        for text in texts:
            if field.startswith("lines[") and "]." in field:
                index, _, name = field[6:].partition("].")
                if index.isdigit() and rows.add_service_error(int(index), name, text):
                    continue
            if field == "lines" or field.startswith("lines["):
                rows.errors.append(text)
                continue
            target = targets.get(field, field)
            if target in form.fields:
                form.add_error(target, text)
            else:
                form.add_error(None, text if field == "__all__" else f"{field}: {text}")


def _form_page(request, form, rows, *, order=None, status=200):
    context = {
        "form": form,
        "rows": rows,
        "order": order,
        "label": order_label(order) if order else "",
        "line_count": len(rows),
    }
    if is_htmx(request) and request.POST.get("lines_action"):
        return render_fragment(request, "orders/_lines.html", context)
    return render(request, "orders/order_form.html", context, status=status)


@ui_view
def order_create_view(request):
    """A new order for a visible customer; its total is what the service sums."""
    user = request.user
    source = request.POST if request.method == "POST" else request.GET
    account_id, contact_id = _int(source.get("account")), _int(source.get("contact"))
    if request.method != "POST":
        form = OrderForm(user=user, account_id=account_id, contact_id=contact_id)
        rows = LineRows(initial=[{"quantity": "1"}], choices=product_choices())
        return _form_page(request, form, rows)
    rows, redraw = _rows_for(request)
    if redraw:
        form = OrderForm(
            user=user, account_id=account_id, contact_id=contact_id, initial=request.POST.dict()
        )
        return _form_page(request, form, rows)
    form = OrderForm(request.POST, user=user, account_id=account_id, contact_id=contact_id)
    order = None
    if form.is_valid() & rows.is_valid():
        try:
            order = order_create(
                actor=user,
                fields=form.service_fields(),
                lines=rows.lines(),
                account=form.cleaned_data.get("account"),
                contact=form.cleaned_data.get("contact"),
            )
        except ValidationError as exc:
            _apply_errors(form, rows, exc)
        except Conflict as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
    if order is None:
        return _form_page(request, form, rows, status=422)
    messages.success(
        request, f"Order {order_label(order)} created: {order.total} {order.currency}."
    )
    return HttpResponseRedirect(_detail_url(order))


def _initial_rows(order) -> list[dict]:
    return [
        {
            "product": line.product_id,
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "quantity_delivered": line.quantity_delivered,
            "quantity_damaged": line.quantity_damaged,
            "quantity_returned": line.quantity_returned,
        }
        for line in order.lines.all()
    ]


@ui_view
def order_edit(request, pk: int):
    """Change time, channel, status and lines (the lines replace the old ones)."""
    user = request.user
    order = _load(request, pk)
    if not _can_edit(order, user):
        raise PermissionDenied("You may not change this customer's orders")
    if request.method != "POST":
        form = OrderForm(user=user, record=order)
        extra_ids = [line.product_id for line in order.lines.all() if line.product_id]
        rows = LineRows(initial=_initial_rows(order), choices=product_choices(extra_ids))
        return _form_page(request, form, rows, order=order)
    rows, redraw = _rows_for(request, order)
    if redraw:
        form = OrderForm(user=user, record=order, initial=request.POST.dict())
        return _form_page(request, form, rows, order=order)
    form = OrderForm(request.POST, user=user, record=order)
    saved = False
    if form.is_valid() & rows.is_valid():
        fields = {
            k: form.cleaned_data.get(k)
            for k in ("ordered_at", "channel", "status", *OrderForm.DELIVERY)
        }
        try:
            order_update(
                order=order,
                actor=user,
                fields={**fields, "lines": rows.lines()},
                expected_version=form.cleaned_data.get("version"),
            )
            saved = True
        except StaleVersion:
            form.add_error(None, STALE_MESSAGE)
        except ValidationError as exc:
            _apply_errors(form, rows, exc)
    if not saved:
        return _form_page(request, form, rows, order=order, status=422)
    messages.success(request, f"Order {order_label(order)} saved.")
    return HttpResponseRedirect(_detail_url(order))
