"""An opportunity's products (line items): add, edit, remove — in place on the record page."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.records.exceptions import StaleVersion
from rapport.records.services import require_editable
from rapport.sales import selectors, services
from rapport.sales.forms import (
    LineItemEditForm,
    LineItemForm,
)
from rapport.sales.views import load_opportunity, opportunity_url
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.record_page import (
    STALE_MESSAGE,
)

# ----- line items ---------------------------------------------------------------------


def _retarget(response, element_id: str):
    """An htmx form answered with its errors: swap them into the form, not the page."""
    response["HX-Retarget"] = f"#{element_id}"
    response["HX-Reswap"] = "outerHTML"
    response["HX-Reselect"] = f"#{element_id}"
    return response


def _line_item_page(request, opportunity, form, *, item=None, status=200):
    context = {"record": opportunity, "form": form, "item": item}
    return render(request, "sales/line_item_form.html", context, status=status)


@ui_view
def line_item_add(request, pk: int):
    opportunity = load_opportunity(pk=pk, user=request.user)
    require_editable(opportunity, request.user)
    form = LineItemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            item = services.line_item_add(
                opportunity=opportunity,
                actor=request.user,
                product=data["product"],
                quantity=data["quantity"],
                unit_price=data["unit_price"],
                discount_percent=data["discount_percent"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc, {"product_id": "product"})
        else:
            messages.success(request, f"Added {item.product.name}.")
            return HttpResponseRedirect(opportunity_url(opportunity) + "#line-items")
    status = 422 if request.method == "POST" else 200
    if is_htmx(request):
        context = {
            "record": opportunity,
            "line_item_form": form,
            "line_item_add_url": reverse("sales:line_item_add", args=[pk]),
            "can_edit": True,
        }
        response = render_fragment(request, "sales/_line_item_add.html", context, status=status)
        return _retarget(response, "line-item-add")
    return _line_item_page(request, opportunity, form, status=status)


@ui_view
def line_item_edit(request, pk: int, item_id: int):
    opportunity = load_opportunity(pk=pk, user=request.user)
    item = selectors.line_item_get(opportunity=opportunity, pk=item_id)
    require_editable(opportunity, request.user)
    form = LineItemEditForm(request.POST or None, item=item)
    if request.method == "POST" and form.is_valid():
        try:
            services.line_item_update(
                line_item=item,
                actor=request.user,
                fields=form.changes(),
                expected_version=form.cleaned_data["version"],
            )
        except StaleVersion:
            form.add_error(None, STALE_MESSAGE)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{item.product.name} saved.")
            return HttpResponseRedirect(opportunity_url(opportunity) + "#line-items")
    status = 422 if request.method == "POST" else 200
    if is_htmx(request):
        context = {"record": opportunity, "item": item, "form": form}
        response = render_fragment(request, "sales/_line_item_edit_row.html", context, status)
        return _retarget(response, f"line-item-{item.pk}") if status == 422 else response
    return _line_item_page(request, opportunity, form, item=item, status=status)


@ui_view
@require_POST
def line_item_remove(request, pk: int, item_id: int):
    opportunity = load_opportunity(pk=pk, user=request.user)
    item = selectors.line_item_get(opportunity=opportunity, pk=item_id)
    version = request.POST.get("version", "")
    try:
        services.line_item_delete(
            line_item=item,
            actor=request.user,
            expected_version=int(version) if version.isdigit() else None,
        )
    except StaleVersion:
        messages.error(request, f"{item.product.name} was changed meanwhile: not removed.")
    else:
        messages.success(request, f"Removed {item.product.name}.")
    return HttpResponseRedirect(opportunity_url(opportunity) + "#line-items")
