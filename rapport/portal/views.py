"""The customer portal's pages (/portal/…): thin over rapport.portal services and selectors.
Every page but sign-in wears `portal_view`: a portal session (own cookie), never the staff
one; a record outside the customer's scope is a 404."""

from functools import wraps

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from rapport.cases.models import CaseStatus
from rapport.portal import auth, selectors, services
from rapport.portal.middleware import current_portal_user
from rapport.records.exceptions import PermissionDenied, RecordNotFound


def portal_view(view):
    """Require a portal session (a staff session does not count): otherwise the portal's
    sign-in page. RecordNotFound → 404."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        portal_user = current_portal_user(request)
        if portal_user is None:
            return redirect(f"{reverse('portal:login')}?next={request.path}")
        request.portal_user = portal_user
        try:
            response = view(request, *args, **kwargs)
        except RecordNotFound as exc:
            raise Http404(str(exc)) from exc
        response.headers.setdefault("Cache-Control", "private, no-store")
        return response

    return wrapped


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _render(request, template: str, context: dict | None = None, status: int = 200):
    context = dict(context or {})
    context.setdefault("portal_user", getattr(request, "portal_user", None))
    return render(request, template, context, status=status)


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(exc.messages)


# ----- sign-in ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def login(request):
    """Ask for a magic link. The answer is the same for known and unknown addresses."""
    if current_portal_user(request) is not None:
        return redirect("portal:home")
    sent, errors, status = False, [], 200
    if request.method == "POST":
        try:
            services.request_sign_in_link(email=request.POST.get("email", ""), ip=_ip(request))
            sent = True
        except services.RateLimited:
            errors, status = ["Too many requests: please try again in an hour."], 429
        except ValidationError as exc:
            errors, status = _errors(exc), 422
    return _render(request, "portal/login.html", {"sent": sent, "errors": errors}, status)


@require_http_methods(["GET", "POST"])
def magic(request, token: str):
    """GET shows a button (link scanners that fetch mail links do not sign anyone in and do
    not use the link up); POST uses the token once and starts the portal session."""
    if request.method == "GET":
        valid = auth.token_peek(token) is not None
        return _render(request, "portal/magic.html", {"valid": valid}, 200 if valid else 404)
    key = services.sign_in_with_token(token)
    if key is None:
        return _render(request, "portal/magic.html", {"valid": False}, 404)
    response = redirect("portal:home")
    auth.set_cookie(response, key)
    return response


@require_POST
def logout(request):
    auth.session_end(request.COOKIES.get(auth.PORTAL_COOKIE))
    response = redirect("portal:login")
    response.delete_cookie(auth.PORTAL_COOKIE, path="/")
    return response


# ----- cases ------------------------------------------------------------------------------


@portal_view
def home(request):
    status = request.GET.get("status", "open")
    if status not in ("open", "closed", "all"):
        status = "open"
    cases = selectors.portal_cases(request.portal_user, status="" if status == "all" else status)
    return _render(
        request,
        "portal/cases.html",
        {
            "cases": cases[:100],
            "status": status,
            "company": selectors.sees_company(request.portal_user),
        },
    )


@portal_view
@require_http_methods(["GET", "POST"])
def case_new(request):
    pu = request.portal_user
    errors, values = [], {}
    assets = list(selectors.portal_assets(pu))
    if request.method == "POST":
        values = request.POST
        asset = None
        if request.POST.get("asset"):
            asset = selectors.portal_asset_get(pu, request.POST["asset"])
        try:
            case = services.portal_case_open(
                portal_user=pu,
                fields={
                    "subject": request.POST.get("subject", ""),
                    "description": request.POST.get("description", ""),
                    "category": selectors.portal_category_get(request.POST.get("category")),
                    "asset": asset,
                },
                uploads=request.FILES.getlist("files"),
            )
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(request, f"Thank you: your request #{case.number} is open.")
            return redirect("portal:case_detail", case.pk)
    return _render(
        request,
        "portal/case_new.html",
        {
            "errors": errors,
            "values": values,
            "categories": selectors.portal_categories(),
            "assets": assets,
            "preselected_asset": request.GET.get("asset", ""),
        },
        422 if errors else 200,
    )


@portal_view
def case_detail(request, pk: int):
    case = selectors.portal_case_get(request.portal_user, pk)
    return _render(
        request,
        "portal/case_detail.html",
        {
            "case": case,
            "entries": selectors.portal_case_entries(case),
            "files": selectors.portal_case_files(case),
            "can_close": case.status != CaseStatus.CLOSED and not case.merged_into_id,
        },
    )


@portal_view
@require_POST
def case_reply(request, pk: int):
    case = selectors.portal_case_get(request.portal_user, pk)
    try:
        services.portal_case_reply(
            portal_user=request.portal_user,
            case=case,
            body=request.POST.get("body", ""),
            uploads=request.FILES.getlist("files"),
        )
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Your message was sent.")
    return redirect("portal:case_detail", case.pk)


@portal_view
@require_POST
def case_close(request, pk: int):
    case = selectors.portal_case_get(request.portal_user, pk)
    services.portal_case_close(portal_user=request.portal_user, case=case)
    messages.success(request, "The request is closed. Thank you.")
    return redirect("portal:case_detail", case.pk)


@portal_view
def case_file(request, pk: int, file_id: int):
    """Download an attachment of one of the customer's cases."""
    from rapport.files.downloads import file_download_response

    case = selectors.portal_case_get(request.portal_user, pk)
    link = selectors.portal_case_files(case).filter(file_id=file_id).first()
    if link is None:
        raise Http404("file")
    return file_download_response(link.file)


# ----- orders, products, returns -----------------------------------------------------------


@portal_view
def orders(request):
    return _render(
        request,
        "portal/orders.html",
        {"orders": selectors.portal_orders(request.portal_user)[:100]},
    )


@portal_view
def order_detail(request, pk: int):
    order = selectors.portal_order_get(request.portal_user, pk)
    return _render(request, "portal/order_detail.html", {"order": order})


@portal_view
def products(request):
    assets = list(selectors.portal_assets(request.portal_user))
    for asset in assets:
        asset.warranty = selectors.warranty_status(asset)
    return _render(request, "portal/products.html", {"assets": assets})


@portal_view
def returns(request):
    return _render(
        request, "portal/returns.html", {"returns": selectors.portal_returns(request.portal_user)}
    )


@portal_view
@require_http_methods(["GET", "POST"])
def return_new(request):
    from rapport.returns.models import Condition, Disposition, ReturnReason
    from rapport.returns.services import return_create

    pu = request.portal_user
    source = request.POST if request.method == "POST" else request.GET
    line = asset = None
    if source.get("order_line"):
        line = selectors.portal_order_line_get(pu, source["order_line"])
    elif source.get("asset"):
        asset = selectors.portal_asset_get(pu, source["asset"])
    else:
        raise Http404("Choose an order line or a product to return")
    errors = []
    if request.method == "POST":
        try:
            row = return_create(
                portal_user=pu,
                fields={
                    "order_line": line,
                    "asset": asset,
                    "quantity": request.POST.get("quantity") or 1,
                    "reason": request.POST.get("reason", ""),
                    "condition": request.POST.get("condition", ""),
                    "disposition": request.POST.get("disposition", ""),
                    "description": request.POST.get("description", ""),
                },
            )
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(request, f"Return {row.number} requested. We will get back to you.")
            return redirect("portal:returns")
    return _render(
        request,
        "portal/return_new.html",
        {
            "line": line,
            "asset": asset,
            "errors": errors,
            "values": request.POST,
            "reasons": ReturnReason.choices,
            "conditions": Condition.choices,
            "dispositions": Disposition.choices,
        },
        422 if errors else 200,
    )


# ----- help and preferences ----------------------------------------------------------------


@portal_view
def help_index(request):
    q = request.GET.get("q", "")
    return _render(
        request, "portal/help.html", {"q": q, "articles": selectors.public_articles(q)[:30]}
    )


@portal_view
def help_article(request, slug: str):
    from rapport.knowledge.rendering import render_markdown

    article = selectors.public_article_get(slug)
    return _render(
        request,
        "portal/article.html",
        {"article": article, "body_html": render_markdown(article.body)},
    )


@portal_view
@require_http_methods(["GET", "POST"])
def preferences(request):
    from rapport.consent.models import Channel
    from rapport.consent.selectors import consent_status_matrix

    pu = request.portal_user
    if request.method == "POST":
        chosen = set()
        for value in request.POST.getlist("choice"):
            purpose_id, _, channel = value.partition(":")
            if purpose_id.isdigit() and channel in Channel.values:
                chosen.add((int(purpose_id), channel))
        services.portal_preferences_save(
            portal_user=pu,
            chosen=chosen,
            unsubscribe_all=request.POST.get("unsubscribe_all") == "1",
            ip=_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:500],
        )
        messages.success(request, "Your preferences are saved.")
        return redirect("portal:preferences")
    return _render(request, "portal/preferences.html", {"rows": consent_status_matrix(pu.contact)})
