"""Pages of the installed base: the list, an asset's page, the form, and the "Installed
products" card on account and contact pages. Reads through the selectors (an asset is
visible with its account or contact; a hidden one is a 404)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from rapport.assets import selectors, services
from rapport.assets.forms import AssetForm
from rapport.assets.models import AssetStatus
from rapport.assets.warranty import STATUS_LABELS, STATUS_STYLE, warranty_status
from rapport.records.exceptions import PermissionDenied, RecordNotFound, StaleVersion
from rapport.records.visibility import shown, with_shown_links
from rapport.sales.models import Product
from rapport.web.decorators import ui_view
from rapport.web.forms import error_messages
from rapport.web.links import record_url
from rapport.web.record_page import STALE_MESSAGE

PAGE_SIZE = 50


def _decorate(asset) -> None:
    key = warranty_status(asset.warranty_end)
    asset.warranty_key = key
    asset.warranty_label = STATUS_LABELS[key]
    asset.warranty_style = STATUS_STYLE[key]


def _int(value) -> int | None:
    value = str(value or "")
    return int(value) if value.isdigit() and len(value) < 19 else None


@ui_view
@require_safe
def asset_list(request):
    status = request.GET.get("status") or None
    if status not in AssetStatus.values:
        status = None
    q = (request.GET.get("q") or "").strip()[:100]
    qs = selectors.asset_list(
        user=request.user,
        account_id=_int(request.GET.get("account_id")),
        contact_id=_int(request.GET.get("contact_id")),
        product_id=_int(request.GET.get("product_id")),
        status=status,
        q=q or None,
    )
    qs = with_shown_links(qs, request.user, "account", "contact")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = []
    for asset in page:
        _decorate(asset)
        account, contact = shown(asset, "account"), shown(asset, "contact")
        rows.append((asset, account, contact))
    context = {
        "rows": rows,
        "page": page,
        "q": q,
        "status": status or "",
        "status_choices": AssetStatus.choices,
    }
    return render(request, "assets/asset_list.html", context)


def _load(request, pk: int):
    qs = with_shown_links(
        selectors.assets_visible_to(request.user), request.user, "account", "contact"
    )
    asset = qs.filter(pk=pk).first()
    if asset is None:
        raise RecordNotFound("asset")
    _decorate(asset)
    return asset


@ui_view
@require_safe
def asset_detail(request, pk: int):
    from rapport.fieldservice.selectors import work_orders_visible_to

    asset = _load(request, pk)
    account, contact = shown(asset, "account"), shown(asset, "contact")
    work_orders = work_orders_visible_to(request.user).filter(asset=asset).order_by("-id")[:20]
    order = asset.order_line.order if asset.order_line_id else None
    context = {
        "asset": asset,
        "account": account,
        "account_url": record_url(account),
        "contact": contact,
        "contact_url": record_url(contact),
        "order": order,
        "work_orders": work_orders,
        "can_edit": selectors.asset_parents_editable(
            user=request.user, account_id=asset.account_id, contact_id=asset.contact_id
        ),
    }
    return render(request, "assets/asset_detail.html", context)


def _apply_errors(form, exc: ValidationError) -> None:
    targets = {"account_id": "account", "contact_id": "contact", "product_id": "product"}
    for field, texts in error_messages(exc).items():
        target = targets.get(field, field)
        for text in texts:
            form.add_error(target if target in form.fields else None, text)


@ui_view
def asset_create_view(request):
    user = request.user
    source = request.POST if request.method == "POST" else request.GET
    kwargs = {"account_id": _int(source.get("account")), "contact_id": _int(source.get("contact"))}
    if request.method != "POST":
        return render(request, "assets/asset_form.html", {"form": AssetForm(user=user, **kwargs)})
    form = AssetForm(request.POST, user=user, **kwargs)
    asset = None
    if form.is_valid():
        product = Product.objects.filter(pk=form.cleaned_data["product"]).first()
        if product is None:
            form.add_error("product", "No such product")
        else:
            fields = form.service_fields()
            try:
                asset = services.asset_create(
                    actor=user,
                    product=product,
                    account=form.cleaned_data.get("account"),
                    contact=form.cleaned_data.get("contact"),
                    **fields,
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
    if asset is None:
        return render(request, "assets/asset_form.html", {"form": form}, status=422)
    messages.success(request, f"Installed product {asset} added.")
    return HttpResponseRedirect(reverse("assets:asset_detail", args=[asset.pk]))


@ui_view
def asset_edit(request, pk: int):
    user = request.user
    asset = _load(request, pk)
    if not selectors.asset_parents_editable(
        user=user, account_id=asset.account_id, contact_id=asset.contact_id
    ):
        raise PermissionDenied("You may not change this customer's installed products")
    if request.method != "POST":
        form = AssetForm(user=user, record=asset)
        return render(request, "assets/asset_form.html", {"form": form, "asset": asset})
    form = AssetForm(request.POST, user=user, record=asset)
    saved = False
    if form.is_valid():
        try:
            services.asset_update(
                asset=asset,
                actor=user,
                fields=form.service_fields(),
                expected_version=form.cleaned_data.get("version"),
            )
            saved = True
        except StaleVersion:
            form.add_error(None, STALE_MESSAGE)
        except ValidationError as exc:
            _apply_errors(form, exc)
    if not saved:
        context = {"form": form, "asset": asset}
        return render(request, "assets/asset_form.html", context, status=422)
    messages.success(request, f"Installed product {asset} saved.")
    return HttpResponseRedirect(reverse("assets:asset_detail", args=[asset.pk]))


@ui_view
@require_safe
def record_assets(request, object_type: str, pk: int):
    """The "Installed products" card on an account's or a contact's page (htmx)."""
    from rapport.accounts.selectors import customer_get_for_user

    record = customer_get_for_user(object_type=object_type, pk=pk, user=request.user)
    qs = selectors.assets_of_visible_parent(**{object_type: record})
    total = qs.count()
    rows = list(qs[:10])
    for asset in rows:
        _decorate(asset)
    context = {
        "rows": rows,
        "total": total,
        "object_type": object_type,
        "record": record,
        "can_edit": selectors.asset_parents_editable(
            user=request.user,
            account_id=record.pk if object_type == "account" else None,
            contact_id=record.pk if object_type == "contact" else None,
        ),
    }
    return render(request, "assets/_record_assets.html", context)
