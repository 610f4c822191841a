"""Pages of web forms. Staff (namespace "webforms"): list, builder, detail with the embed
snippets, QR code and submissions. Public (namespace "webforms_public", no login): the hosted
form `/f/<slug>/`, framable by the company's own sites only."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from rapport.consent.tokens import absolute
from rapport.identity.models import Role
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.webforms import qr, selectors, services, spam
from rapport.webforms.catalogue import catalogue
from rapport.webforms.forms import WebFormSettingsForm, field_rows, fields_from_rows

VISITOR_COOKIE = "rpv"


def _can_manage(user) -> bool:
    return user.is_active and (user.is_admin or user.role == Role.MANAGER)


def public_url(form) -> str:
    return absolute(reverse("webforms_public:form", args=[form.slug]))


# ----- staff -------------------------------------------------------------------------------
@ui_view
def form_list(request):
    forms_ = list(selectors.forms_for(request.user))
    return render(
        request,
        "webforms/list.html",
        {"forms": forms_, "can_manage": _can_manage(request.user)},
    )


def _builder(request, form_obj=None):
    if not _can_manage(request.user):
        services.require_form_admin(request.user)
    target = (request.POST.get("target") if request.method == "POST" else None) or (
        form_obj.target if form_obj else "lead"
    )
    if target not in ("lead", "contact"):
        target = "lead"
    current = (
        form_obj.fields
        if form_obj
        else [
            {"key": "first_name", "label": "First name", "required": False},
            {"key": "last_name", "label": "Last name", "required": True},
            {"key": "email", "label": "Email", "required": True},
            {"key": "company", "label": "Company", "required": False},
        ]
    )
    settings_form = WebFormSettingsForm(
        request.POST or None,
        instance=form_obj,
        initial=None if form_obj else {"assign_user": request.user.pk},
    )
    status = 200
    rows = field_rows(target, current, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if settings_form.is_valid():
            data = {k: v for k, v in settings_form.cleaned_data.items() if k != "consent_purposes"}
            data["fields"] = fields_from_rows(rows)
            purposes = list(settings_form.cleaned_data["consent_purposes"])
            try:
                if form_obj is None:
                    saved = services.form_create(actor=request.user, data=data, purposes=purposes)
                else:
                    saved = services.form_update(
                        form=form_obj, actor=request.user, data=data, purposes=purposes
                    )
            except ValidationError as exc:
                add_service_errors(settings_form, exc)
                status = 422
            else:
                messages.success(request, "Form saved.")
                return HttpResponseRedirect(reverse("webforms:form_detail", args=[saved.pk]))
        else:
            status = 422
    return render(
        request,
        "webforms/edit.html",
        {"form": settings_form, "web_form": form_obj, "rows": rows, "target": target},
        status=status,
    )


@ui_view
@require_http_methods(["GET", "POST"])
def form_new(request):
    return _builder(request)


@ui_view
@require_http_methods(["GET", "POST"])
def form_edit(request, pk: int):
    return _builder(request, selectors.form_get_for_user(pk=pk, user=request.user))


@ui_view
@require_POST
def form_delete(request, pk: int):
    form = selectors.form_get_for_user(pk=pk, user=request.user)
    services.form_delete(form=form, actor=request.user)
    messages.success(request, f"Form “{form.name}” deleted.")
    return HttpResponseRedirect(reverse("webforms:form_list"))


@ui_view
def form_detail(request, pk: int):
    form = selectors.form_get_for_user(pk=pk, user=request.user)
    submissions = list(selectors.submissions_for(form=form, user=request.user)[:200])
    url = public_url(form)
    from django.templatetags.static import static

    return render(
        request,
        "webforms/detail.html",
        {
            "web_form": form,
            "submissions": submissions,
            "public_url": url,
            "embed_iframe": (
                f'<iframe src="{url}?embed=1" title="{form.title}" '
                'width="100%" height="640" loading="lazy"></iframe>'
            ),
            "embed_script": (
                f'<script src="{absolute(static("webforms/embed.js"))}" '
                f'data-rapport-form="{url}" async></script>'
            ),
            "purposes": list(form.consent_purposes.all()),
            "field_labels": catalogue(form.target),
            "can_manage": _can_manage(request.user),
        },
    )


@ui_view
def form_qr(request, pk: int, kind: str):
    form = selectors.form_get_for_user(pk=pk, user=request.user)
    url = public_url(form)
    if kind == "png":
        response = HttpResponse(qr.qr_png(url), content_type="image/png")
    elif kind == "svg":
        response = HttpResponse(qr.qr_svg(url), content_type="image/svg+xml")
    else:
        raise Http404("unknown format")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="form-{form.slug}.{kind}"'
    return response


# ----- public ------------------------------------------------------------------------------
def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _public_response(request, response, form=None):
    """The hosted form may be framed by the company's sites and post-redirect to them."""
    sites = [f"https://{d}" for d in services.tracked_domains()] + [
        f"https://*.{d}" for d in services.tracked_domains()
    ]
    response._csp_replace = {
        "frame-ancestors": ["'self'", *sites] if sites else ["'self'"],
        "form-action": ["'self'", *sites],
    }
    response.xframe_options_exempt = True
    response["Cache-Control"] = "no-store"
    return response


def _context(request, form, values=None, errors=None, spam_error=None):
    values = values or {}
    known = catalogue(form.target)
    rows = []
    for spec in form.fields:
        field = known.get(spec["key"])
        if field is None:
            continue
        rows.append(
            {
                "key": spec["key"],
                "name": spec["key"],
                "id": "f-" + spec["key"].replace(".", "-"),
                "label": spec["label"],
                "required": spec.get("required"),
                "kind": field.kind,
                "choices": field.choices,
                "value": values.get(spec["key"], ""),
                "errors": (errors or {}).get(spec["key"], []),
            }
        )
    source = values if values else request.GET
    utm = {k: source.get(k, "")[:200] for k in services.UTM_KEYS if source.get(k)}
    return {
        "web_form": form,
        "rows": rows,
        "purposes": list(form.consent_purposes.filter(active=True)),
        "ticked": {k for k in values if k.startswith("consent_")},
        "utm": utm,
        "landing_url": (values.get("landing_url") or request.GET.get("landing") or "")[:1000],
        "stamp": spam.stamp(form),
        "honeypot": spam.HONEYPOT,
        "stamp_name": spam.STAMP,
        "embed": request.GET.get("embed") == "1" or values.get("embed") == "1",
        "spam_error": spam_error,
        "has_errors": bool(errors),
    }


@csrf_exempt  # a public form, framed on other sites; the signed timestamp and rate limit guard it
@require_http_methods(["GET", "POST"])
def public_form(request, slug: str):
    form = selectors.form_public(slug=slug)
    if form is None:
        raise Http404("No such form")
    if not form.is_active:
        return _public_response(
            request, render(request, "webforms/public_closed.html", {"web_form": form}, status=410)
        )
    if request.method == "GET":
        return _public_response(
            request, render(request, "webforms/public_form.html", _context(request, form))
        )
    try:
        result = services.form_submit(
            form=form,
            data=request.POST,
            ip=_client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            landing_url=request.POST.get("landing_url", ""),
        )
    except spam.SpamRejected as exc:
        ctx = _context(request, form, request.POST, spam_error=exc.message)
        return _public_response(
            request, render(request, "webforms/public_form.html", ctx, status=exc.status)
        )
    except ValidationError as exc:
        errors = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        ctx = _context(request, form, request.POST, errors=errors)
        return _public_response(
            request, render(request, "webforms/public_form.html", ctx, status=422)
        )
    if result.redirect_url and request.POST.get("embed") != "1":
        response = HttpResponseRedirect(result.redirect_url)
    else:
        response = render(
            request,
            "webforms/public_thanks.html",
            {
                "web_form": form,
                "purposes": list(form.consent_purposes.filter(slug__in=result.submission.consents)),
                "visitor_token": result.visitor_token,
                "redirect_url": result.redirect_url,
            },
        )
    # First-party identity for a site served from the same domain as Rapport; other sites
    # get the token in the redirect (and /wt/t.js keeps it in their own storage).
    response.set_cookie(
        VISITOR_COOKIE,
        result.visitor_token,
        max_age=90 * 86400,
        samesite="Lax",
        secure=request.is_secure(),
        httponly=True,
    )
    return _public_response(request, response, form)
