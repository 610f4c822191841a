"""Field-service pages: the work-order list and page, the form, the technician's day view
(made for a phone: big buttons, one column), the actions they post to, the downloads of
photos and signatures, the calendar-feed settings and the feeds themselves, and vCards.

Actions answer with a redirect to `next` (the day view or the work order's page), so they
work without JavaScript; the signature pad is the one piece that needs it
(static/fieldservice/signature.js, no inline script under the CSP)."""

import datetime
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from rapport.fieldservice import feeds, selectors, services
from rapport.fieldservice.forms import WorkOrderFilterForm, WorkOrderForm
from rapport.fieldservice.models import (
    TRANSITIONS,
    FeedKind,
    WorkOrderPhoto,
    WorkOrderStatus,
    WorkOrderTask,
)
from rapport.files.downloads import file_download_response
from rapport.records.exceptions import PermissionDenied, RecordNotFound, StaleVersion
from rapport.records.visibility import shown, with_shown_links
from rapport.sales.models import Product
from rapport.web.decorators import ui_view
from rapport.web.forms import error_messages
from rapport.web.links import record_url
from rapport.web.record_page import STALE_MESSAGE

PAGE_SIZE = 50
STATUS_STYLE = {
    WorkOrderStatus.NEW: "info",
    WorkOrderStatus.SCHEDULED: "info",
    WorkOrderStatus.IN_PROGRESS: "warning",
    WorkOrderStatus.COMPLETED: "success",
    WorkOrderStatus.CANCELLED: "danger",
}


def _int(value) -> int | None:
    value = str(value or "")
    return int(value) if value.isdigit() and len(value) < 19 else None


def _detail_url(pk: int) -> str:
    return reverse("fieldservice:workorder_detail", args=[pk])


def _next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _service_errors(request, exc: ValidationError) -> None:
    for texts in error_messages(exc).values():
        for text in texts:
            messages.error(request, text)


# ----- list ------------------------------------------------------------------------------


@ui_view
@require_safe
def workorder_list(request):
    form = WorkOrderFilterForm(request.GET or None)
    values = form.cleaned_data if request.GET and form.is_valid() else {}
    status = values.get("status")
    qs = selectors.work_order_list(
        user=request.user,
        technician_id=values.get("technician"),
        status=[status] if status else None,
        day=values.get("day"),
    )
    qs = with_shown_links(qs, request.user, "account", "contact").order_by(
        "-scheduled_start", "-id"
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = []
    for wo in page:
        wo.status_style = STATUS_STYLE.get(wo.status, "info")
        rows.append((wo, shown(wo, "account"), shown(wo, "contact")))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "rows": rows, "page": page, "query": query.urlencode()}
    return render(request, "fieldservice/workorder_list.html", context)


# ----- create / edit ---------------------------------------------------------------------


def _apply_errors(form, exc: ValidationError) -> None:
    targets = {"account_id": "account", "contact_id": "contact", "technician_id": "technician"}
    for field, texts in error_messages(exc).items():
        target = targets.get(field, field)
        for text in texts:
            form.add_error(target if target in form.fields else None, text)


@ui_view
def workorder_create(request):
    from rapport.assets.selectors import asset_get_for_user, assets_visible_to
    from rapport.cases.selectors import case_get_for_user

    user = request.user
    source = request.POST if request.method == "POST" else request.GET
    case = asset = None
    if _int(source.get("case")):
        case = case_get_for_user(pk=_int(source.get("case")), user=user)
    if _int(source.get("asset")):
        asset = asset_get_for_user(pk=_int(source.get("asset")), user=user)
    elif case is not None and case.asset_id and request.method != "POST":
        # Prefill from the case: its asset (if this user may see it) …
        asset = assets_visible_to(user).filter(pk=case.asset_id).first()
    kwargs = {"account_id": _int(source.get("account")), "contact_id": _int(source.get("contact"))}
    if case is not None and not (kwargs["account_id"] or kwargs["contact_id"]):
        # … and its customer, so the form shows whom the technician visits.
        kwargs = {"account_id": case.account_id, "contact_id": case.contact_id}
    context = {"case": case, "asset": asset}
    if request.method != "POST":
        initial = {}
        if case is not None:
            initial["title"] = case.subject[:200]
        elif asset is not None:
            initial["title"] = f"Service {asset}"[:200]
        if case is not None:
            initial["address"] = services.work_order_default_address(
                account=case.account, contact=case.contact, asset=asset
            )
        form = WorkOrderForm(user=user, initial=initial, **kwargs)
        return render(request, "fieldservice/workorder_form.html", {**context, "form": form})
    form = WorkOrderForm(request.POST, user=user, **kwargs)
    wo = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            wo = services.work_order_create(
                actor=user,
                title=data["title"],
                account=data.get("account"),
                contact=data.get("contact"),
                case=case,
                asset=asset,
                address=data.get("address") or "",
                scheduled_start=data.get("scheduled_start"),
                scheduled_end=data.get("scheduled_end"),
                technician=data.get("technician"),
                notes=data.get("notes") or "",
                tasks=(data.get("tasks") or "").splitlines(),
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
    if wo is None:
        return render(
            request, "fieldservice/workorder_form.html", {**context, "form": form}, status=422
        )
    messages.success(request, f"Work order {wo.label} created.")
    return HttpResponseRedirect(_detail_url(wo.pk))


def _load(request, pk: int):
    qs = with_shown_links(
        selectors.work_orders_visible_to(request.user), request.user, "account", "contact"
    )
    wo = qs.filter(pk=pk).first()
    if wo is None:
        raise RecordNotFound("work order")
    wo.status_style = STATUS_STYLE.get(wo.status, "info")
    return wo


@ui_view
def workorder_edit(request, pk: int):
    user = request.user
    wo = _load(request, pk)
    if not selectors.work_order_editable(work_order=wo, user=user):
        raise PermissionDenied("You may not change this work order")
    if request.method != "POST":
        form = WorkOrderForm(user=user, record=wo)
        return render(request, "fieldservice/workorder_form.html", {"form": form, "wo": wo})
    form = WorkOrderForm(request.POST, user=user, record=wo)
    saved = False
    if form.is_valid():
        fields = {name: form.cleaned_data.get(name) for name in WorkOrderForm.EDITABLE}
        try:
            services.work_order_update(
                work_order=wo,
                actor=user,
                fields=fields,
                expected_version=form.cleaned_data.get("version"),
            )
            saved = True
        except StaleVersion:
            form.add_error(None, STALE_MESSAGE)
        except ValidationError as exc:
            _apply_errors(form, exc)
    if not saved:
        return render(
            request, "fieldservice/workorder_form.html", {"form": form, "wo": wo}, status=422
        )
    messages.success(request, f"Work order {wo.label} saved.")
    return HttpResponseRedirect(_detail_url(wo.pk))


# ----- the work order's page ----------------------------------------------------------


def _page_context(request, wo) -> dict:
    account, contact = shown(wo, "account"), shown(wo, "contact")
    case = None
    if wo.case_id:
        from rapport.cases.selectors import cases_visible_to

        case = cases_visible_to(request.user).filter(pk=wo.case_id).first()
    can_edit = selectors.work_order_editable(work_order=wo, user=request.user)
    return {
        "wo": wo,
        "account": account,
        "account_url": record_url(account),
        "contact": contact,
        "contact_url": record_url(contact),
        "case": case,
        "tasks": list(wo.tasks.all()),
        "parts": list(wo.parts.select_related("product")),
        "photos": list(wo.photos.select_related("file")),
        "next_statuses": [
            (s.value, s.label) for s in WorkOrderStatus if s in TRANSITIONS[wo.status]
        ]
        if can_edit
        else [],
        "can_edit": can_edit,
        "products": Product.objects.filter(is_active=True).order_by("name")[:500],
    }


@ui_view
@require_safe
def workorder_detail(request, pk: int):
    wo = _load(request, pk)
    return render(request, "fieldservice/workorder_detail.html", _page_context(request, wo))


# ----- actions (day view and page) -------------------------------------------------------


def _action(request, pk: int, run):
    wo = _load(request, pk)
    try:
        run(wo)
    except ValidationError as exc:
        _service_errors(request, exc)
    except StaleVersion:
        messages.error(request, STALE_MESSAGE)
    return HttpResponseRedirect(_next(request, _detail_url(pk)))


@ui_view
@require_POST
def workorder_status(request, pk: int):
    status = request.POST.get("status", "")
    version = _int(request.POST.get("version"))

    def run(wo):
        services.work_order_set_status(
            work_order=wo, actor=request.user, status=status, expected_version=version
        )
        messages.success(request, f"{wo.label} is now {wo.get_status_display().lower()}.")

    return _action(request, pk, run)


@ui_view
@require_POST
def workorder_task_add(request, pk: int):
    return _action(
        request,
        pk,
        lambda wo: services.task_add(
            work_order=wo, actor=request.user, label=request.POST.get("label", "")
        ),
    )


@ui_view
@require_POST
def workorder_task_toggle(request, pk: int, task_id: int):
    def run(wo):
        task = WorkOrderTask.objects.filter(work_order=wo, pk=task_id).first()
        if task is None:
            raise RecordNotFound("task")
        task.work_order = wo
        services.task_set_done(task=task, actor=request.user, done=request.POST.get("done") == "1")

    return _action(request, pk, run)


@ui_view
@require_POST
def workorder_part_add(request, pk: int):
    def run(wo):
        product = Product.objects.filter(pk=_int(request.POST.get("product"))).first()
        if product is None:
            raise ValidationError({"product": ["Choose a product"]})
        try:
            quantity = Decimal(request.POST.get("quantity") or "1")
        except InvalidOperation:
            raise ValidationError({"quantity": ["Not a number"]})
        services.part_add(work_order=wo, actor=request.user, product=product, quantity=quantity)
        messages.success(request, f"{product.name} added to {wo.label}.")

    return _action(request, pk, run)


@ui_view
@require_POST
def workorder_photo_add(request, pk: int):
    def run(wo):
        services.photo_add(work_order=wo, actor=request.user, upload=request.FILES.get("photo"))
        messages.success(request, f"Photo added to {wo.label}.")

    return _action(request, pk, run)


@ui_view
@require_POST
def workorder_sign(request, pk: int):
    def run(wo):
        png = services.decode_signature(request.POST.get("signature", ""))
        services.signature_save(
            work_order=wo, actor=request.user, png=png, signed_by=request.POST.get("signed_by", "")
        )
        messages.success(request, f"{wo.label} signed by {wo.signed_by}.")

    return _action(request, pk, run)


@ui_view
@require_safe
def workorder_file(request, pk: int, file_id: int):
    """A photo or the signature of a work order the reader may see."""
    wo = _load(request, pk)
    if wo.signature_id == file_id:
        return file_download_response(wo.signature)
    photo = WorkOrderPhoto.objects.filter(work_order=wo, file_id=file_id).select_related("file")
    photo = photo.first()
    if photo is None:
        raise RecordNotFound("file")
    return file_download_response(photo.file)


# ----- the technician's day -----------------------------------------------------------


@ui_view
@require_safe
def technician_day(request):
    raw = request.GET.get("day") or ""
    try:
        day = datetime.date.fromisoformat(raw) if raw else timezone.localdate()
    except ValueError:
        day = timezone.localdate()
    work_orders = list(selectors.technician_day(user=request.user, day=day))
    for wo in work_orders:
        wo.status_style = STATUS_STYLE.get(wo.status, "info")
        wo.customer = wo.account or wo.contact
    context = {
        "day": day,
        "previous": day - datetime.timedelta(days=1),
        "following": day + datetime.timedelta(days=1),
        "is_today": day == timezone.localdate(),
        "work_orders": work_orders,
        "products": Product.objects.filter(is_active=True).order_by("name")[:500],
        "here": request.get_full_path(),
    }
    return render(request, "fieldservice/day.html", context)


# ----- calendar feeds ---------------------------------------------------------------------


def _feed_url(request, kind: str, token: str) -> str:
    path = reverse("feeds:calendar", args=[kind.replace("_", "-"), token])
    return request.build_absolute_uri(path)


@ui_view
def feed_settings(request):
    """The user's secret calendar URLs: made or rotated here (shown once), or turned off."""
    fresh = {}
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        if kind not in FeedKind.values:
            raise Http404("feed")
        if request.POST.get("action") == "revoke":
            feeds.feed_revoke(user=request.user, kind=kind)
            messages.success(request, "The calendar link is turned off.")
        else:
            token = feeds.feed_rotate(user=request.user, kind=kind)
            fresh[kind] = _feed_url(request, kind, token)
            messages.success(
                request,
                "New calendar link made. Copy it now: it is shown only once; "
                "the old link no longer works.",
            )
    existing = feeds.feeds_of(request.user)
    rows = [
        {"kind": kind, "label": label, "feed": existing.get(kind), "url": fresh.get(kind, "")}
        for kind, label in FeedKind.choices
    ]
    return render(request, "fieldservice/feed_settings.html", {"rows": rows})


@require_safe
def calendar_feed(request, kind: str, token: str):
    """The feed itself (no sign-in: the token is the key). Unknown or rotated → 404."""
    kind = kind.replace("-", "_")
    if kind not in FeedKind.values:
        raise Http404("feed")
    user = feeds.feed_user(token=token, kind=kind)
    if user is None:
        raise Http404("feed")
    host = request.get_host().split(":")[0] or "rapport"
    base = request.build_absolute_uri("/").rstrip("/")
    if kind == FeedKind.WORK_ORDERS:
        body = feeds.work_orders_calendar(user=user, host=host, base_url=base)
    else:
        body = feeds.activities_calendar(user=user, host=host, base_url=base)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{kind}.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


# ----- vCards -----------------------------------------------------------------------------


def _vcard_response(body: str, name: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/vcard; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@ui_view
@require_safe
def contact_vcard(request, pk: int):
    from rapport.accounts.selectors import contact_get_for_user, contacts_visible_to

    contact_get_for_user(pk=pk, user=request.user)  # 404 unless visible
    qs = with_shown_links(contacts_visible_to(request.user).filter(pk=pk), request.user, "account")
    body = feeds.contacts_vcards(qs)
    return _vcard_response(body, f"contact-{pk}.vcf")


MAX_VCARDS = 1000


@ui_view
def contacts_vcards(request):
    """The vCards of the chosen contacts (`id` repeated, from the list's selection); the
    ones the reader may not see are left out."""
    from rapport.accounts.selectors import contacts_visible_to

    source = request.POST if request.method == "POST" else request.GET
    ids = [i for i in (_int(v) for v in source.getlist("id") + source.getlist("ids")) if i]
    if not ids:
        raise RecordNotFound("contact")
    qs = contacts_visible_to(request.user).filter(pk__in=ids[:MAX_VCARDS]).order_by("pk")
    qs = with_shown_links(qs, request.user, "account")
    return _vcard_response(feeds.contacts_vcards(qs), "contacts.vcf")
