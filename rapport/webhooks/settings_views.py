"""Settings → Webhooks and Settings → Inbound webhooks (administrators only): thin views over
rapport.webhooks.services / inbound and the selectors. Secrets are rendered once, in the
answer to the POST that made them, never on a GET."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.accounts.models import Contact
from rapport.records.exceptions import RecordNotFound
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.webhooks import inbound, selectors, services
from rapport.webhooks.forms import AssignForm, NetworkForm, SourceForm, SubscriptionForm
from rapport.webhooks.models import DeliveryState, InboundOutcome

PAGE = 50


def _page(request, section: str, template: str, context: dict, status: int = 200):
    from rapport.web.settings_views import visible_sections

    selectors.require_webhook_admin(request.user)
    context = {
        "section": section,
        "sections": [(key, label) for key, label, _ in visible_sections(request.user)],
        "can_change": True,
        **context,
    }
    return render(request, f"webhooks/{template}", context, status=status)


def _back(name: str, *args) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse(f"settings:{name}", args=args))


# ----- outbound ---------------------------------------------------------------------------


@ui_view
def webhooks(request, form=None, network_form=None, new_secret=None, status=200):
    subs = list(selectors.subscriptions_for(request.user))
    context = {
        "subscriptions": subs,
        "disabled": [s for s in subs if s.disabled_at and not s.is_active],
        "networks": list(selectors.allowed_networks_for(request.user)),
        "form": form or SubscriptionForm(),
        "network_form": network_form or NetworkForm(),
        "new_secret": new_secret,
    }
    return _page(request, "webhooks", "subscriptions.html", context, status)


@ui_view
@require_POST
def subscription_create_view(request):
    selectors.require_webhook_admin(request.user)
    form = SubscriptionForm(request.POST)
    if form.is_valid():
        try:
            sub, secret = services.subscription_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return subscription(request, sub.pk, new_secret=secret, status=201)
    return webhooks(request, form=form, status=422)


@ui_view
def subscription(request, pk: int, form=None, new_secret=None, status=200):
    sub = selectors.subscription_get(user=request.user, pk=pk)
    state = request.GET.get("state") or ""
    deliveries = selectors.deliveries_for(request.user, subscription=sub)
    if state in DeliveryState.values:
        deliveries = deliveries.filter(state=state)
    form = form or SubscriptionForm(
        initial={
            "name": sub.name,
            "url": sub.url,
            "event_types": ", ".join(sub.event_types),
            "is_active": sub.is_active,
        }
    )
    context = {
        "sub": sub,
        "form": form,
        "deliveries": list(deliveries[:PAGE]),
        "states": DeliveryState.choices,
        "state": state,
        "new_secret": new_secret,
    }
    return _page(request, "webhooks", "subscription.html", context, status)


@ui_view
@require_POST
def subscription_update_view(request, pk: int):
    sub = selectors.subscription_get(user=request.user, pk=pk)
    form = SubscriptionForm(request.POST)
    if form.is_valid():
        try:
            services.subscription_update(
                actor=request.user, subscription=sub, fields=form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Subscription {sub.name} saved.")
            return _back("webhook", pk)
    return subscription(request, pk, form=form, status=422)


@ui_view
@require_POST
def subscription_rotate_view(request, pk: int):
    sub = selectors.subscription_get(user=request.user, pk=pk)
    secret = services.subscription_rotate_secret(actor=request.user, subscription=sub)
    return subscription(request, pk, new_secret=secret)


@ui_view
@require_POST
def subscription_test_view(request, pk: int):
    sub = selectors.subscription_get(user=request.user, pk=pk)
    services.subscription_send_test(actor=request.user, subscription=sub)
    messages.success(request, "Test event queued; its result shows in the deliveries below.")
    return _back("webhook", pk)


@ui_view
@require_POST
def subscription_delete_view(request, pk: int):
    sub = selectors.subscription_get(user=request.user, pk=pk)
    services.subscription_delete(actor=request.user, subscription=sub)
    messages.success(request, f"Subscription {sub.name} deleted.")
    return _back("webhooks")


@ui_view
def delivery(request, pk: int):
    found = selectors.delivery_get(user=request.user, pk=pk)
    context = {"delivery": found, "log": list(selectors.delivery_log(found))}
    return _page(request, "webhooks", "delivery.html", context)


@ui_view
@require_POST
def delivery_resend_view(request, pk: int):
    found = selectors.delivery_get(user=request.user, pk=pk)
    services.delivery_resend(actor=request.user, delivery=found)
    if found.subscription_id and not found.subscription.is_active and not found.is_test:
        messages.success(
            request,
            "Queued to be sent again; it waits until the subscription is active again.",
        )
    else:
        messages.success(request, "Queued to be sent again with the same webhook-id.")
    return _back("webhook_delivery", pk)


@ui_view
@require_POST
def network_add_view(request):
    selectors.require_webhook_admin(request.user)
    form = NetworkForm(request.POST)
    if form.is_valid():
        try:
            net = services.allowed_network_add(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Webhooks may now reach {net.network}.")
            return _back("webhooks")
    return webhooks(request, network_form=form, status=422)


@ui_view
@require_POST
def network_remove_view(request, pk: int):
    network = selectors.allowed_networks_for(request.user).filter(pk=pk).first()
    if network is None:
        raise RecordNotFound("allowed network")
    services.allowed_network_remove(actor=request.user, network=network)
    messages.success(request, f"{network.network} is no longer allowed.")
    return _back("webhooks")


# ----- inbound ----------------------------------------------------------------------------


def _hook_url(request, token: str) -> str:
    return request.build_absolute_uri(reverse("inbound_hook", args=[token]))


@ui_view
def inbound_sources(request, form=None, status=200):
    context = {
        "sources": list(selectors.inbound_sources_for(request.user)),
        "form": form or SourceForm(initial={"user": request.user.pk}),
    }
    return _page(request, "inbound", "sources.html", context, status)


@ui_view
@require_POST
def source_create_view(request):
    selectors.require_webhook_admin(request.user)
    form = SourceForm(request.POST)
    if form.is_valid():
        try:
            source, shown = inbound.inbound_source_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc, {"user_id": "user"})
        else:
            return source_page(request, source.pk, shown=shown, status=201)
    return inbound_sources(request, form=form, status=422)


@ui_view
def source_page(request, pk: int, form=None, shown=None, status=200):
    source = selectors.inbound_source_get(user=request.user, pk=pk)
    outcome = request.GET.get("outcome") or ""
    events = selectors.inbound_events_for(request.user, source=source)
    if outcome in InboundOutcome.values:
        events = events.filter(outcome=outcome)
    form = form or SourceForm(
        edit=True,
        initial={
            "name": source.name,
            "user": source.user_id,
            "external_id_field": source.external_id_field,
            "verify_signature": bool(source.signing_secret),
            "is_active": source.is_active,
        },
    )
    context = {
        "source": source,
        "form": form,
        "events": list(events[:PAGE]),
        "outcomes": InboundOutcome.choices,
        "outcome": outcome,
        "shown": shown,
        "hook_url": _hook_url(request, shown.token) if shown and shown.token else "",
        "example_url": _hook_url(request, source.token_prefix) + "…",
    }
    return _page(request, "inbound", "source.html", context, status)


@ui_view
@require_POST
def source_update_view(request, pk: int):
    source = selectors.inbound_source_get(user=request.user, pk=pk)
    form = SourceForm(request.POST, edit=True)
    if form.is_valid():
        try:
            source, shown = inbound.inbound_source_update(
                actor=request.user, source=source, fields=form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc, {"user_id": "user"})
        else:
            if shown is not None:
                return source_page(request, pk, shown=shown)
            messages.success(request, f"Source {source.name} saved.")
            return _back("inbound_source", pk)
    return source_page(request, pk, form=form, status=422)


@ui_view
@require_POST
def source_rotate_view(request, pk: int):
    source = selectors.inbound_source_get(user=request.user, pk=pk)
    shown = inbound.inbound_source_rotate(actor=request.user, source=source)
    return source_page(request, pk, shown=shown)


@ui_view
@require_POST
def source_delete_view(request, pk: int):
    source = selectors.inbound_source_get(user=request.user, pk=pk)
    inbound.inbound_source_delete(actor=request.user, source=source)
    messages.success(request, f"Source {source.name} deleted with its log.")
    return _back("inbound")


def _event(request, pk: int):
    event = selectors.inbound_events_for(request.user).filter(pk=pk).first()
    if event is None:
        raise RecordNotFound("inbound event")
    return event


@ui_view
def inbound_event(request, pk: int, form=None, status=200):
    event = _event(request, pk)
    import json

    context = {
        "event": event,
        "payload": json.dumps(event.payload, indent=2, ensure_ascii=False),
        "form": form or AssignForm(user=request.user),
        "assignable": event.outcome != InboundOutcome.CREATED,
    }
    return _page(request, "inbound", "event.html", context, status)


@ui_view
@require_POST
def inbound_event_assign_view(request, pk: int):
    event = _event(request, pk)
    form = AssignForm(request.POST, user=request.user)
    if form.is_valid():
        contact = Contact.objects.filter(pk=form.cleaned_data["contact"]).first()
        if contact is None:
            raise RecordNotFound("contact")
        inbound.inbound_event_assign(actor=request.user, event=event, contact=contact)
        if event.outcome == InboundOutcome.CREATED:
            messages.success(request, f"Recorded on {contact}.")
        else:
            messages.error(request, f"Not recorded: {event.detail}")
        return _back("inbound_event", pk)
    return inbound_event(request, pk, form=form, status=422)
