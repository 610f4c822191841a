"""Campaign pages (list, wizard, detail with report and actions, recipients, export) and the
public tracking endpoints (open pixel, click redirect). Thin over services and selectors."""

from __future__ import annotations

import base64

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from rapport.campaigns import exports, selectors, services, tracking
from rapport.campaigns.forms import CampaignForm
from rapport.campaigns.models import CampaignKind, CampaignLink, CampaignRecipient
from rapport.records.exceptions import Conflict, PermissionDenied
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors

RECIPIENTS_PER_PAGE = 50
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _form_choices(user) -> dict:
    from django.db.models import Q

    from rapport.consent.selectors import purposes
    from rapport.mail.models import EmailTemplate, Mailbox
    from rapport.segments.selectors import segments_for

    return {
        "segments": segments_for(user),
        "templates": EmailTemplate.objects.filter(active=True),
        "purposes": purposes(),
        "mailboxes": Mailbox.objects.filter(active=True).filter(
            Q(owner__isnull=True) | Q(owner=user)
        ),
    }


@ui_view
def campaign_list(request):
    rows = selectors.campaigns_for(request.user)
    return render(
        request,
        "campaigns/list.html",
        {"campaigns": rows, "can_create": not request.user.is_read_only},
    )


def _initial(campaign) -> dict:
    send = services.send_settings(campaign)
    variants = {v.label: v for v in campaign.variants.all()}
    return {
        "name": campaign.name,
        "kind": campaign.kind,
        "description": campaign.description,
        "utm_campaign": campaign.utm_campaign or "",
        "cost": campaign.cost,
        "include_segments": [str(p) for p in send.include_segments.values_list("pk", flat=True)],
        "exclude_segments": [str(p) for p in send.exclude_segments.values_list("pk", flat=True)],
        "template": str(send.template_id or ""),
        "subject": send.subject,
        "consent_purpose": str(send.consent_purpose_id or ""),
        "mailbox": str(send.mailbox_id or ""),
        "from_name": send.from_name,
        "send_at": send.send_at,
        "rate_per_minute": send.rate_per_minute,
        "ab_enabled": send.ab_enabled,
        "variant_a_subject": variants["A"].subject if "A" in variants else "",
        "variant_b_subject": variants["B"].subject if "B" in variants else "",
        "ab_sample_percent": send.ab_sample_percent,
        "ab_wait_minutes": send.ab_wait_minutes,
        "ab_metric": send.ab_metric,
        "track_opens": send.track_opens,
        "track_clicks": send.track_clicks,
        "conversion_days": send.conversion_days,
        "webhook_event": send.webhook_event,
    }


def _edit(request, campaign=None):
    if campaign is None and request.user.is_read_only:
        raise PermissionDenied("Read-only users cannot create campaigns")
    if campaign is not None:
        services.require_change(campaign, request.user)
    choices = _form_choices(request.user)
    if request.method == "POST":
        form = CampaignForm(request.POST, **choices)
        if form.is_valid():
            fields, send = form.service_fields()
            try:
                if campaign is None:
                    campaign = services.campaign_create(
                        actor=request.user, fields=fields, send=send
                    )
                else:
                    campaign = services.campaign_update(
                        campaign=campaign, actor=request.user, fields=fields, send=send
                    )
            except (ValidationError, Conflict) as exc:
                add_service_errors(
                    form,
                    exc,
                    {
                        "template_id": "template",
                        "consent_purpose_id": "consent_purpose",
                        "mailbox_id": "mailbox",
                        "variants": "variant_a_subject",
                    },
                )
            else:
                messages.success(request, f"Campaign “{campaign.name}” saved.")
                return HttpResponseRedirect(reverse("campaigns:detail", args=[campaign.pk]))
    else:
        form = CampaignForm(initial=_initial(campaign) if campaign else None, **choices)
    return render(
        request,
        "campaigns/edit.html",
        {"form": form, "campaign": campaign, "started": campaign and campaign.status != "draft"},
        status=400 if request.method == "POST" else 200,
    )


@ui_view
def campaign_new(request):
    return _edit(request)


@ui_view
def campaign_edit(request, pk: int):
    return _edit(request, selectors.campaign_get_for_user(pk=pk, user=request.user))


def _chart_data(report: dict) -> dict:
    return {
        "funnel": {
            "labels": ["Sent", "Delivered", "Opened", "Clicked", "Converted"],
            "values": [
                report["sent"],
                report["delivered"],
                report["opened"],
                report["clicked"],
                report["converted"],
            ],
        },
        "daily": {
            "labels": [d["day"].isoformat() for d in report["daily"]],
            "opened": [d["opened"] for d in report["daily"]],
            "clicked": [d["clicked"] for d in report["daily"]],
        },
        "variants": {
            "labels": [v["label"] for v in report["variants"]],
            "open_rate": [round(v["open_rate"] * 100, 1) for v in report["variants"]],
            "click_rate": [round(v["click_rate"] * 100, 1) for v in report["variants"]],
        },
    }


@ui_view
def campaign_detail(request, pk: int):
    from rapport.accounts.selectors import contacts_visible_to

    campaign = selectors.campaign_get_for_user(pk=pk, user=request.user)
    send = services.send_settings(campaign)
    report = selectors.report(campaign)
    preview = None
    preview_contact = None
    contact_id = request.GET.get("preview_contact", "")
    if campaign.kind == CampaignKind.EMAIL:
        if contact_id.isdigit():
            preview_contact = contacts_visible_to(request.user).filter(pk=int(contact_id)).first()
        elif send.include_segments.exists():
            preview_contact = (
                contacts_visible_to(request.user)
                .filter(segment_memberships__segment__in=send.include_segments.all())
                .order_by("pk")
                .first()
            )
        if preview_contact is not None:
            variants = list(campaign.variants.all())
            preview = services.preview(
                campaign, preview_contact, variants[0] if variants and send.ab_enabled else None
            )
    return render(
        request,
        "campaigns/detail.html",
        {
            "campaign": campaign,
            "send": send,
            "report": report,
            "chart_data": _chart_data(report),
            "links": selectors.link_stats(campaign)[:20],
            "can_change": services.can_change(campaign, request.user),
            "preview": preview,
            "preview_contact": preview_contact,
            "include": send.include_segments.all(),
            "exclude": send.exclude_segments.all(),
        },
    )


def _action(request, pk: int, fn, done: str, **kwargs):
    campaign = selectors.campaign_get_for_user(pk=pk, user=request.user)
    try:
        fn(campaign=campaign, actor=request.user, **kwargs)
    except (ValidationError, Conflict) as exc:
        text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text)
    else:
        messages.success(request, done)
    return HttpResponseRedirect(reverse("campaigns:detail", args=[campaign.pk]))


@require_POST
@ui_view
def campaign_start(request, pk: int):
    return _action(request, pk, services.campaign_start, "Campaign started.")


@require_POST
@ui_view
def campaign_pause(request, pk: int):
    return _action(request, pk, services.campaign_pause, "Campaign paused.")


@require_POST
@ui_view
def campaign_resume(request, pk: int):
    return _action(request, pk, services.campaign_resume, "Campaign resumed.")


@require_POST
@ui_view
def campaign_cancel(request, pk: int):
    return _action(request, pk, services.campaign_cancel, "Campaign cancelled.")


@require_POST
@ui_view
def campaign_winner(request, pk: int):
    variant = request.POST.get("variant_id", "")
    if not variant.isdigit():
        raise Http404("variant")
    return _action(
        request, pk, services.ab_choose_winner, "Winner chosen.", variant_id=int(variant)
    )


@ui_view
def campaign_recipients(request, pk: int):
    campaign = selectors.campaign_get_for_user(pk=pk, user=request.user)
    status = request.GET.get("status", "")
    if status not in dict(selectors.STATUS_CHOICES):
        status = ""
    qs = selectors.recipients_visible(campaign=campaign, user=request.user, status=status)
    page = Paginator(qs, RECIPIENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "campaigns/recipients.html",
        {
            "campaign": campaign,
            "page": page,
            "status": status,
            "statuses": selectors.STATUS_CHOICES,
        },
    )


@ui_view
def campaign_export(request, pk: int):
    campaign = selectors.campaign_get_for_user(pk=pk, user=request.user)
    if campaign.kind == CampaignKind.EMAIL:
        raise Http404("export")
    if not services.can_change(campaign, request.user):
        raise PermissionDenied("Only its owner, its creator, a manager or an admin may export")
    return exports.export_csv_response(campaign)


# ----- public tracking (no login) -------------------------------------------------------------


@never_cache
@require_GET
def track_open(request, token: str):
    """The open pixel: a 1×1 GIF whatever happens (a bad token records nothing)."""
    try:
        recipient_id = tracking.read_open_token(token)
    except tracking.BadTrackingToken:
        raise Http404("not a tracking link") from None
    recipient = (
        CampaignRecipient.objects.filter(pk=recipient_id)
        .select_related("campaign", "contact")
        .first()
    )
    if recipient is not None:
        services.record_open(recipient)
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@require_GET
def track_click(request, token: str):
    """The click redirect: only to the link stored for this campaign (a URL that was in the
    sent message); a changed token or an unknown link is a 404, never a redirect."""
    try:
        recipient_id, link_id = tracking.read_click_token(token)
    except tracking.BadTrackingToken:
        raise Http404("not a tracking link") from None
    recipient = (
        CampaignRecipient.objects.filter(pk=recipient_id)
        .select_related("campaign", "contact")
        .first()
    )
    if recipient is None:
        raise Http404("not a tracking link")
    link = CampaignLink.objects.filter(pk=link_id, campaign_id=recipient.campaign_id).first()
    if link is None or not link.url.lower().startswith(("http://", "https://")):
        raise Http404("not a tracking link")
    services.record_click(recipient, link)
    target = tracking.decorate(
        link.url, campaign=recipient.campaign, contact_id=recipient.contact_id
    )
    response = HttpResponseRedirect(target)
    response["Referrer-Policy"] = "no-referrer"
    return response
