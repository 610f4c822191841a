"""Consent pages. Staff: the consent card's "record consent" action on contacts and leads,
the purposes (administrators) and the suppression list. Public (no login, no session): the
double opt-in confirmation, the one-click unsubscribe and the preference centre, each
authorised by its signed token alone."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts.selectors import contact_get_for_user
from rapport.consent import selectors, services, tokens
from rapport.consent.forms import (
    AgentConsentForm,
    PurposeForm,
    SuppressionForm,
    SuppressionRemoveForm,
)
from rapport.consent.models import Channel, ConsentSource, Suppression
from rapport.leads.selectors import lead_get_for_user
from rapport.records.exceptions import PermissionDenied, RecordNotFound
from rapport.records.visibility import can_edit
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.settings_views import _page as settings_page


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def user_agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:500]


# ----- staff: the consent card ------------------------------------------------------------
def card_context(record, user, form=None) -> dict:
    return {
        "record": record,
        "consent_rows": selectors.consent_status_matrix(record),
        "consent_ledger": list(selectors.consent_ledger(record)[:200]),
        "consent_channels": Channel,
        "consent_form": form if form is not None else AgentConsentForm(),
        "consent_can_record": can_edit(record, user) and not user.is_read_only,
        "consent_action": reverse("consent:record_consent", args=[_kind(record), record.pk]),
    }


def _kind(record) -> str:
    return "contacts" if type(record).__name__ == "Contact" else "leads"


def _load(kind: str, pk: int, user):
    if kind == "contacts":
        return contact_get_for_user(pk=pk, user=user)
    if kind == "leads":
        return lead_get_for_user(pk=pk, user=user)
    raise RecordNotFound("not found")


@ui_view
@require_POST
def record_consent(request, kind: str, pk: int):
    record = _load(kind, pk, request.user)
    if not can_edit(record, request.user):
        raise PermissionDenied("You may not change this record", code="not_editable")
    form = AgentConsentForm(request.POST)
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.consent_record(
                person=record,
                channel=data["channel"],
                purpose=data["purpose"],
                action=data["action"],
                source=ConsentSource.AGENT,
                actor=request.user,
                ip=client_ip(request),
                user_agent=user_agent(request),
                note=data["note"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc, {"purpose_id": "purpose"})
            status = 422
        else:
            messages.success(request, "Consent recorded.")
            form = None
    else:
        status = 422
    if not is_htmx(request):
        if status == 200:
            return HttpResponseRedirect(reverse(f"{_kind_ns(kind)}_detail", args=[pk]))
        return render(
            request, "consent/record_consent.html", {"form": form, "record": record}, status=status
        )
    return render_fragment(
        request, "consent/_card.html", card_context(record, request.user, form), status=status
    )


def _kind_ns(kind: str) -> str:
    return "accounts:contact" if kind == "contacts" else "leads:lead"


# ----- settings: purposes (administrators change, managers read) and suppressions -------
def _submit(request, form, call, *, done: str, back: str):
    """Validate `form`, call the service with its data; a redirect on success, else None
    with the service's errors on the form (the caller renders it with a 422)."""
    if not form.is_valid():
        return None
    try:
        call(form.cleaned_data)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return None
    messages.success(request, done)
    return HttpResponseRedirect(reverse(back))


def _require_admin(user) -> None:
    if not user.is_admin:
        raise PermissionDenied("Only administrators manage consent purposes", code="admin_only")


@ui_view
@require_http_methods(["GET", "POST"])
def purpose_list(request):
    form = PurposeForm(request.POST or None) if request.user.is_admin else None
    status = 200
    if request.method == "POST":
        _require_admin(request.user)
        done = _submit(
            request,
            form,
            lambda data: services.purpose_create(actor=request.user, fields=data),
            done="Purpose added.",
            back="settings:consent",
        )
        if done:
            return done
        status = 422
    return settings_page(
        request,
        "consent",
        "consent/purpose_list.html",
        {"purposes": selectors.purposes(active_only=False), "form": form},
        status=status,
    )


@ui_view
@require_http_methods(["GET", "POST"])
def purpose_edit(request, pk: int):
    _require_admin(request.user)
    purpose = selectors.purpose_get(pk=pk)
    if purpose is None:
        raise RecordNotFound("purpose not found")
    form = PurposeForm(request.POST or None, instance=purpose)
    status = 200
    if request.method == "POST":
        # The ModelForm fills its instance while validating: the service compares with the
        # stored row.
        stored = selectors.purpose_get(pk=pk)
        done = _submit(
            request,
            form,
            lambda data: services.purpose_update(actor=request.user, purpose=stored, fields=data),
            done="Purpose saved.",
            back="settings:consent",
        )
        if done:
            return done
        status = 422
    return settings_page(
        request,
        "consent",
        "consent/purpose_edit.html",
        {"purpose": purpose, "form": form},
        status=status,
    )


@ui_view
@require_http_methods(["GET", "POST"])
def suppression_list(request):
    from rapport.mail.models import AddressStatus

    form = SuppressionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        done = _submit(
            request,
            form,
            lambda data: services.suppression_add(actor=request.user, **data),
            done="Address suppressed.",
            back="settings:consent_suppressions",
        )
        if done:
            return done
        status = 422
    return settings_page(
        request,
        "consent",
        "consent/suppression_list.html",
        {
            "form": form,
            "suppressions": selectors.active_suppressions()[:500],
            "bounced": AddressStatus.objects.filter(suppressed=True).order_by(
                "-last_bounce_at", "address"
            )[:500],
            "can_remove": request.user.is_admin or request.user.role == "manager",
        },
        status=status,
    )


@ui_view
@require_POST
def suppression_remove(request, pk: int):
    suppression = Suppression.objects.filter(pk=pk, removed_at__isnull=True).first()
    if suppression is None:
        raise RecordNotFound("suppression not found")
    form = SuppressionRemoveForm(request.POST)
    if form.is_valid():
        try:
            services.suppression_remove(
                suppression=suppression, note=form.cleaned_data["note"], actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        else:
            messages.success(request, f"{suppression.address} removed from the list.")
    else:
        messages.error(request, "Say why the address may receive marketing again.")
    return HttpResponseRedirect(reverse("settings:consent_suppressions"))


# ----- public: signed links ----------------------------------------------------------------
def _refused(request, exc: tokens.BadToken):
    return render(request, "consent/public_refused.html", {"reason": str(exc)}, status=400)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def confirm(request, token: str):
    """GET only shows the page (link scanners fetch it and nothing happens); the static
    script posts it at once, and the visible button does the same without JavaScript."""
    try:
        payload = tokens.read_confirm_token(token)
    except tokens.BadToken as exc:
        return _refused(request, exc)
    if request.method == "GET":
        purpose = selectors.purpose_get(pk=payload.get("u"))
        return render(request, "consent/public_confirm.html", {"purpose": purpose})
    try:
        record = services.consent_confirm(
            token=token, ip=client_ip(request), user_agent=user_agent(request)
        )
    except tokens.BadToken as exc:
        return _refused(request, exc)
    return render(request, "consent/public_confirmed.html", {"purpose": record.purpose})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """RFC 8058: a POST (the mail client's one click, body List-Unsubscribe=One-Click)
    unsubscribes without session or CSRF; a GET shows a page with the button."""
    try:
        payload = tokens.read_unsubscribe_token(token)
    except tokens.BadToken as exc:
        return _refused(request, exc)
    purpose = selectors.purpose_get(pk=payload["u"])
    if request.method == "GET":
        return render(
            request,
            "consent/public_unsubscribe.html",
            {"purpose": purpose, "address": payload["a"]},
        )
    try:
        services.consent_unsubscribe(
            token=token, ip=client_ip(request), user_agent=user_agent(request)
        )
    except tokens.BadToken as exc:
        return _refused(request, exc)
    return render(
        request,
        "consent/public_unsubscribed.html",
        {"purpose": purpose, "address": payload["a"]},
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def preferences(request, token: str):
    """The preference centre: a person chooses purposes per channel (no login; the signed
    link is the key)."""
    try:
        payload = tokens.read_preferences_token(token)
        person = services._person_from_ref(payload["p"])
        if person is None:
            raise tokens.BadToken("This link no longer matches a subscription.")
    except tokens.BadToken as exc:
        return _refused(request, exc)
    saved = False
    if request.method == "POST":
        chosen = set()
        for value in request.POST.getlist("choice"):
            purpose_id, _, channel = value.partition(":")
            if purpose_id.isdigit() and channel in Channel.values:
                chosen.add((int(purpose_id), channel))
        try:
            services.preferences_save(
                token=token,
                chosen=chosen,
                unsubscribe_all=request.POST.get("unsubscribe_all") == "1",
                ip=client_ip(request),
                user_agent=user_agent(request),
            )
        except tokens.BadToken as exc:
            return _refused(request, exc)
        saved = True
    return render(
        request,
        "consent/public_preferences.html",
        {
            "rows": selectors.consent_status_matrix(person),
            "first_name": getattr(person, "first_name", ""),
            "saved": saved,
        },
    )
