"""Product and price book pages (namespace "catalog").

Everyone reads the catalogue; managers and administrators change it (the catalogue
services refuse everyone else, and these pages show reps no edit controls). Thin: reads
through `rapport.sales.selectors`, writes through `rapport.sales.services`.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.records.exceptions import Conflict, PermissionDenied, StaleVersion
from rapport.sales import selectors, services
from rapport.sales.catalog_forms import (
    CHOICES_LIMIT,
    EntryForm,
    PriceBookForm,
    ProductFilterForm,
    ProductForm,
)
from rapport.sales.models import PriceBookEntry
from rapport.sales.services.guards import require_catalog_manager
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.listing import BulkAction, Column, ListConfig, created_column, updated_column
from rapport.web.listing import list_views as shared_list_views
from rapport.web.record_page import STALE_MESSAGE
from rapport.web.templatetags.rapport_ui import money


def can_manage_catalog(user) -> bool:
    try:
        require_catalog_manager(user)
    except PermissionDenied:
        return False
    return True


def _product_url(product) -> str:
    return reverse("catalog:product_detail", args=[product.pk])


def _book_url(book) -> str:
    return reverse("catalog:price_book_detail", args=[book.pk])


def _save(form, save):
    """Run the service; its errors go next to the fields. The result, or None."""
    if not form.is_valid():
        return None
    try:
        return save()
    except StaleVersion:
        form.add_error(None, STALE_MESSAGE)
    except Conflict as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
    except ValidationError as exc:
        add_service_errors(form, exc)
    return None


# ----- products -----------------------------------------------------------------------------


def _product_selector(*, user, deleted=False, **filters):
    # The catalogue is readable by everyone and has no trash.
    return selectors.product_list(**filters)


PRODUCTS = ListConfig(
    object_type="product",
    singular="Product",
    plural="Products",
    namespace="catalog",
    selector=_product_selector,
    sorts=selectors.PRODUCT_SORTS,
    default_sort="name",
    filter_form=ProductFilterForm,
    related=(),
    bulk_actions=("deactivate", "activate", "delete"),
    writer_check=require_catalog_manager,
    custom_bulk={
        "deactivate": BulkAction(
            "Deactivate",
            "deactivated",
            lambda record, actor, data: services.product_update(
                product=record, actor=actor, fields={"is_active": False}
            ),
        ),
        "activate": BulkAction(
            "Activate",
            "activated",
            lambda record, actor, data: services.product_update(
                product=record, actor=actor, fields={"is_active": True}
            ),
        ),
        "delete": BulkAction(
            "Delete (deactivate if sold)",
            "deleted or deactivated",
            lambda record, actor, data: services.product_delete(product=record, actor=actor),
        ),
    },
    # Only managers and administrators change the catalogue: the services refuse the others.
    bulk_targets=lambda qs, user: qs,
    template="sales/catalog/product_list.html",
    columns=[
        Column("name", "Name", lambda p: p.name, link=_product_url, sort="name"),
        Column("sku", "SKU", lambda p: p.sku, sort="sku"),
        Column("category", "Category", lambda p: p.category),
        Column(
            "price",
            "List price",
            lambda p: p.unit_price,
            kind="money",
            currency=lambda p: p.currency,
            sort="unit_price",
        ),
        Column(
            "cost",
            "Unit cost",
            lambda p: p.unit_cost,
            kind="money",
            currency=lambda p: p.currency,
            default=False,
        ),
        Column("status", "Status", lambda p: "Active" if p.is_active else "Inactive"),
        created_column(default=False),
        updated_column(default=False),
    ],
    empty_text="No products match. Clear the filters, or add the first product.",
)

_list = shared_list_views(PRODUCTS)
product_list_view = _list["list"]
product_bulk_view = _list["bulk"]
product_export_view = _list["export"]


@ui_view
def product_detail(request, pk: int):
    product = selectors.product_get(pk=pk)
    # The catalogue is public to every user: its price book entries need no visibility check.
    entries = PriceBookEntry.objects.filter(product=product).select_related("price_book")
    return render(
        request,
        "sales/catalog/product_detail.html",
        {
            "product": product,
            "entries": [(e, _book_url(e.price_book)) for e in entries.order_by("price_book__name")],
            "can_manage": can_manage_catalog(request.user),
            "orders_url": reverse("orders:order_list"),
        },
    )


def _product_form_page(request, form, product=None, status=200):
    return render(
        request,
        "sales/catalog/product_form.html",
        {"form": form, "product": product},
        status=status,
    )


@ui_view
def product_create(request):
    require_catalog_manager(request.user)
    form = ProductForm(request.POST or None)
    if request.method != "POST":
        return _product_form_page(request, form)
    product = _save(
        form,
        lambda: services.product_create(actor=request.user, fields=form.service_fields()),
    )
    if product is None:
        return _product_form_page(request, form, status=422)
    messages.success(request, f"Product {product.name} created.")
    return HttpResponseRedirect(_product_url(product))


@ui_view
def product_edit(request, pk: int):
    product = selectors.product_get(pk=pk)
    require_catalog_manager(request.user)
    form = ProductForm(request.POST or None, record=product)
    if request.method != "POST":
        return _product_form_page(request, form, product)

    def save():
        services.product_update(
            product=product,
            actor=request.user,
            fields=form.service_fields(),
            expected_version=form.cleaned_data.get("version"),
        )
        return product

    if _save(form, save) is None:
        return _product_form_page(request, form, product, status=422)
    messages.success(request, f"Product {product.name} saved.")
    return HttpResponseRedirect(_product_url(product))


def _set_active(request, pk: int, active: bool):
    product = selectors.product_get(pk=pk)
    services.product_update(product=product, actor=request.user, fields={"is_active": active})
    if active:
        messages.success(request, f"{product.name} is active again.")
    else:
        undo = reverse("catalog:product_activate", args=[pk])
        messages.success(
            request,
            f"{product.name} deactivated: it is no longer offered for new lines.",
            extra_tags=f"undo:{undo}",
        )
    return HttpResponseRedirect(_product_url(product))


@ui_view
@require_POST
def product_deactivate(request, pk: int):
    return _set_active(request, pk, False)


@ui_view
@require_POST
def product_activate(request, pk: int):
    return _set_active(request, pk, True)


# ----- price books ---------------------------------------------------------------------------


@ui_view
def price_book_list(request):
    books = selectors.price_book_list().annotate(entry_count=Count("entries")).order_by("name")
    can_manage = can_manage_catalog(request.user)
    return render(
        request,
        "sales/catalog/price_book_list.html",
        {
            "books": [(b, _book_url(b)) for b in books],
            "can_manage": can_manage,
        },
    )


@ui_view
def price_book_create(request):
    require_catalog_manager(request.user)
    form = PriceBookForm(request.POST or None)
    if request.method == "POST":
        book = _save(
            form,
            lambda: services.price_book_create(actor=request.user, fields=form.service_fields()),
        )
        if book is not None:
            messages.success(request, f"Price book {book.name} created.")
            return HttpResponseRedirect(_book_url(book))
    status = 422 if request.method == "POST" else 200
    return render(
        request, "sales/catalog/price_book_form.html", {"form": form, "book": None}, status=status
    )


@ui_view
def price_book_edit(request, pk: int):
    book = selectors.price_book_get(pk=pk)
    require_catalog_manager(request.user)
    form = PriceBookForm(request.POST or None, record=book)
    if request.method == "POST":

        def save():
            services.price_book_update(
                price_book=book,
                actor=request.user,
                fields=form.service_fields(),
                expected_version=form.cleaned_data.get("version"),
            )
            return book

        if _save(form, save) is not None:
            messages.success(request, f"Price book {book.name} saved.")
            return HttpResponseRedirect(_book_url(book))
    status = 422 if request.method == "POST" else 200
    return render(
        request, "sales/catalog/price_book_form.html", {"form": form, "book": book}, status=status
    )


@ui_view
@require_POST
def price_book_delete(request, pk: int):
    book = selectors.price_book_get(pk=pk)
    services.price_book_delete(price_book=book, actor=request.user)
    messages.success(request, f"Price book {book.name} deleted.")
    return HttpResponseRedirect(reverse("catalog:price_book_list"))


def _unpriced_products(book, entries) -> list:
    """Active products not yet in the book (capped), for the "add a price" form."""
    priced = {e.product_id for e in entries}
    products = selectors.product_list(is_active=True).order_by("name", "id")
    products = products.exclude(pk__in=priced)[:CHOICES_LIMIT]
    return [(p.pk, f"{p.name} ({p.sku}) · list {p.unit_price} {p.currency}") for p in products]


def _entry_row(entry, book, can_manage: bool, form=None) -> dict:
    return {
        "entry": entry,
        "product_url": _product_url(entry.product),
        "form": form,
        "can_manage": can_manage,
        "book": book,
    }


def _book_page(request, book, *, add_form=None, status=200):
    entries = list(selectors.price_book_entries(book).order_by("product__name", "product_id"))
    can_manage = can_manage_catalog(request.user)
    choices = _unpriced_products(book, entries) if can_manage else []
    context = {
        "book": book,
        "rows": [_entry_row(e, book, can_manage) for e in entries],
        "can_manage": can_manage,
        "add_form": add_form or EntryForm(product_choices=choices),
        "has_choices": bool(choices),
    }
    return render(request, "sales/catalog/price_book_detail.html", context, status=status)


@ui_view
def price_book_detail(request, pk: int):
    return _book_page(request, selectors.price_book_get(pk=pk))


@ui_view
@require_POST
def price_book_entry_set(request, pk: int):
    """Add a product to the book, or change its price (in place with htmx)."""
    book = selectors.price_book_get(pk=pk)
    require_catalog_manager(request.user)
    raw = request.POST.get("product", "")
    product = None
    if raw.isdigit() and len(raw) < 19:
        product = selectors.product_list().filter(pk=int(raw)).first()
    choices = [(product.pk, product.name)] if product else []
    form = EntryForm(request.POST, product_choices=choices)
    entry = None
    if form.is_valid():
        try:
            entry = services.price_book_entry_set(
                price_book=book,
                product=product,
                unit_price=form.cleaned_data["unit_price"],
                actor=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
    in_place = is_htmx(request) and request.POST.get("row")
    if entry is None:
        if in_place:
            existing = selectors.price_book_entries(book).filter(product=product).first()
            if existing is not None:
                row = _entry_row(existing, book, True, form)
                return render_fragment(
                    request, "sales/catalog/_entry_row.html", {"row": row}, status=422
                )
        return _book_page(request, book, add_form=form, status=422)
    price = money(entry.unit_price, book.currency)
    messages.success(request, f"{product.name}: {price} in {book.name}.")
    if in_place:
        entry.product = product
        row = _entry_row(entry, book, True)
        return render_fragment(request, "sales/catalog/_entry_row.html", {"row": row})
    return HttpResponseRedirect(_book_url(book))


@ui_view
@require_POST
def price_book_entry_remove(request, pk: int, product_id: int):
    book = selectors.price_book_get(pk=pk)
    product = selectors.product_get(pk=product_id)
    services.price_book_entry_delete(price_book=book, product=product, actor=request.user)
    messages.success(request, f"{product.name} removed from {book.name}.")
    return HttpResponseRedirect(_book_url(book))
