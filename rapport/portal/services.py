"""Writes of the customer portal: invitations, magic links, sign-in, and the customer's
case actions (through rapport/cases services), attachments (rapport/files), preferences
(the consent preference centre's service). Timeline `portal` events in the same
transaction."""

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from rapport.accounts.models import Contact
from rapport.cases.models import Case, CaseChannel, CaseStatus
from rapport.portal import auth
from rapport.portal.models import (
    PortalAccountSetting,
    PortalCaseFile,
    PortalUser,
    SignInRequest,
    TokenPurpose,
)
from rapport.records.exceptions import PermissionDenied
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

INVITE_TEMPLATE = "Portal invitation"
LOGIN_TEMPLATE = "Portal sign-in link"
_DEFAULTS = {
    INVITE_TEMPLATE: (
        "Your access to our customer portal",
        "Hello {{ contact.first_name }},\n\n{{ inviter }} invited you to our customer portal: "
        "follow your requests, orders and products, and reach our support.\n\n"
        "Sign in here (the link works once, for {{ days }} days):\n{{ link }}\n",
    ),
    LOGIN_TEMPLATE: (
        "Your sign-in link",
        "Hello {{ contact.first_name }},\n\nSign in to the customer portal with this link "
        "(it works once, for {{ minutes }} minutes):\n{{ link }}\n\n"
        "If you did not ask for it, ignore this message.\n",
    ),
}
# The rate limit of "email me a link": per address and per IP, in the last hour.
PER_ADDRESS_PER_HOUR = 5
PER_IP_PER_HOUR = 20
MAX_ATTACHMENTS = 5


class RateLimited(Exception):
    pass


def _error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _template(name: str):
    from rapport.mail.models import EmailTemplate, Purpose

    subject, body = _DEFAULTS[name]
    template, _ = EmailTemplate.objects.get_or_create(
        name=name,
        defaults={"purpose": Purpose.TRANSACTIONAL, "subject": subject, "body_text": body},
    )
    return template


def support_mailbox():
    """The mailbox portal mail goes out from: the first shared support mailbox, if any."""
    from rapport.mail.models import Mailbox, MailboxPurpose

    return Mailbox.objects.filter(owner=None, purpose=MailboxPurpose.SUPPORT).order_by("pk").first()


def _send(name: str, portal_user: PortalUser, extra: dict, actor=None) -> None:
    from rapport.mail.models import Purpose
    from rapport.mail.rendering import render_template
    from rapport.mail.services import queue_email

    template = _template(name)
    contact = portal_user.contact
    context = {
        "contact": {"first_name": contact.first_name, "last_name": contact.last_name},
        **extra,
    }
    queue_email(
        to=[portal_user.email],
        subject=render_template(template.subject, context),
        text=render_template(template.body_text, context),
        html=render_template(template.body_html, context, html=True) if template.body_html else "",
        mailbox=support_mailbox(),
        links=[{"contact_id": contact.pk, "account_id": contact.account_id}],
        purpose=Purpose.TRANSACTIONAL,
        template=template,
        actor=actor,
    )


def _absolute(path: str) -> str:
    from rapport.consent.tokens import absolute

    return absolute(path)


def _event(portal_user: PortalUser, summary: str, payload: dict, actor=None, **links) -> None:
    timeline_record(
        kind=EventKind.PORTAL,
        actor=actor,
        summary=summary,
        payload={"portal_user_id": portal_user.pk, **payload},
        contact_id=portal_user.contact_id,
        account_id=portal_user.contact.account_id,
        **links,
    )


# ----- invitations and sign-in ----------------------------------------------------------


def portal_invite(*, contact: Contact, actor) -> PortalUser:
    """Give `contact` portal access (or send a fresh invitation) and mail them a single-use
    sign-in link valid RAPPORT_PORTAL_INVITE_DAYS days. Agents only (not read-only users),
    for contacts they may see (the caller loads the contact through visibility)."""
    from rapport.cases.services import require_agent

    require_agent(actor)
    email = (contact.email or "").strip().lower()
    if not email:
        raise _error("email", "The contact has no email address to invite", "required")
    with transaction.atomic():
        other = PortalUser.objects.filter(email=email).exclude(contact=contact).first()
        if other is not None:
            raise _error("email", "Another contact already uses this address in the portal")
        portal_user, _ = PortalUser.objects.get_or_create(
            contact=contact, defaults={"email": email}
        )
        portal_user.email = email
        portal_user.is_active = True
        portal_user.invited_by = actor
        portal_user.invited_at = timezone.now()
        portal_user.save()
        token = auth.token_issue(
            portal_user=portal_user,
            purpose=TokenPurpose.INVITE,
            lifetime=datetime.timedelta(days=auth.invite_days()),
        )
        _send(
            INVITE_TEMPLATE,
            portal_user,
            {
                "link": _absolute(reverse("portal:magic", args=[token])),
                "days": auth.invite_days(),
                "inviter": actor.get_full_name() or actor.username,
            },
            actor=actor,
        )
        _event(
            portal_user, f"Invited to the customer portal ({email})", {"action": "invited"}, actor
        )
    return portal_user


def portal_revoke(*, portal_user: PortalUser, actor) -> PortalUser:
    from rapport.cases.services import require_agent

    require_agent(actor)
    with transaction.atomic():
        PortalUser.objects.filter(pk=portal_user.pk).update(is_active=False)
        portal_user.is_active = False
        portal_user.sessions.filter(ended_at=None).update(ended_at=timezone.now())
        _event(portal_user, "Portal access revoked", {"action": "revoked"}, actor)
    return portal_user


def request_sign_in_link(*, email: str, ip: str | None) -> None:
    """Mail a sign-in link when `email` belongs to an active portal user. The caller answers
    the same whatever happened (no user enumeration); RateLimited when the address or the IP
    asked too often in the last hour (counted for unknown addresses too)."""
    email = (email or "").strip().lower()
    if not email or len(email) > 254:
        raise _error("email", "Enter your email address", "required")
    now = timezone.now()
    hour_ago = now - datetime.timedelta(hours=1)
    email_hash = auth.sha256(email)
    with transaction.atomic():
        recent = SignInRequest.objects.filter(created_at__gte=hour_ago)
        if recent.filter(email_hash=email_hash).count() >= PER_ADDRESS_PER_HOUR or (
            ip and recent.filter(ip=ip).count() >= PER_IP_PER_HOUR
        ):
            raise RateLimited()
        SignInRequest.objects.create(email_hash=email_hash, ip=ip or None, created_at=now)
        portal_user = (
            PortalUser.objects.select_related("contact").filter(email=email, is_active=True).first()
        )
        if portal_user is None:
            return
        token = auth.token_issue(
            portal_user=portal_user,
            purpose=TokenPurpose.LOGIN,
            lifetime=datetime.timedelta(minutes=auth.link_minutes()),
        )
        _send(
            LOGIN_TEMPLATE,
            portal_user,
            {
                "link": _absolute(reverse("portal:magic", args=[token])),
                "minutes": auth.link_minutes(),
            },
        )


def sign_in_with_token(token: str) -> str | None:
    """Use a magic link: a new portal session key, or None (unknown, used, expired, changed)."""
    with transaction.atomic():
        portal_user = auth.token_consume(token)
        if portal_user is None:
            return None
        key = auth.session_start(portal_user)
        _event(portal_user, "Signed in to the customer portal", {"action": "signed_in"})
    return key


def account_setting_set(*, account, company_cases: bool, actor) -> PortalAccountSetting:
    from rapport.cases.services import require_agent

    require_agent(actor)
    setting, _ = PortalAccountSetting.objects.update_or_create(
        account=account, defaults={"company_cases": company_cases}
    )
    return setting


# ----- the customer's case actions -------------------------------------------------------


def portal_case_open(
    *, portal_user: PortalUser, fields: dict[str, Any], uploads: list | None = None
) -> Case:
    """Open a case from the portal (channel portal) for the portal user's contact, with its
    attachments, through the cases service; the `category` and `asset` were loaded through
    the portal selectors."""
    from rapport.cases.services import case_create

    uploads = list(uploads or [])
    _check_uploads(uploads)
    contact = portal_user.contact
    asset = fields.get("asset")
    values = {
        "subject": fields.get("subject", ""),
        "description": fields.get("description", ""),
        "contact": contact,
        "account": contact.account,
        "channel": CaseChannel.PORTAL,
        "category": fields.get("category"),
    }
    if asset is not None:
        values["asset"] = asset
        values["product"] = asset.product
    # Files need a customer entry to sit on, as an email's attachments do.
    body = values["description"] or ("(attached files)" if uploads else None)
    with transaction.atomic():
        case = case_create(actor=None, fields=values, body=body)
        _attach(case, portal_user, uploads, entry=case.entries.order_by("id").first())
        _event(
            portal_user,
            f"Opened case #{case.number} in the portal",
            {"action": "case_opened", "case_id": case.pk},
            case_id=case.pk,
        )
    return case


def _check_uploads(uploads: list) -> None:
    from django.conf import settings

    if len(uploads) > MAX_ATTACHMENTS:
        raise _error("files", f"At most {MAX_ATTACHMENTS} files", "too_many_files")
    for upload in uploads:
        if upload.size > settings.RAPPORT_MAX_UPLOAD_BYTES:
            raise _error("files", f"“{upload.name}” is too large", "file_too_large")
        if upload.size == 0:
            raise _error("files", f"“{upload.name}” is empty", "empty_file")


def _attach(case: Case, portal_user: PortalUser, uploads: list, *, entry) -> None:
    """Store the customer's files on their contact, list them in the portal (PortalCaseFile)
    and put them on the conversation entry they came with, where staff see them."""
    from rapport.cases.services import case_entry_attach
    from rapport.files.services import safe_filename, sniff_content_type, store_file

    stored_files = []
    for upload in uploads:
        name = safe_filename(upload.name)
        head = upload.read(8192)
        upload.seek(0)
        stored = store_file(
            upload,
            name=name,
            content_type=sniff_content_type(head, name),
            contact_id=portal_user.contact_id,
        )
        PortalCaseFile.objects.create(case=case, file=stored, portal_user=portal_user)
        stored_files.append(stored)
    if stored_files and entry is not None:
        case_entry_attach(entry=entry, files=stored_files)


def portal_case_reply(*, portal_user: PortalUser, case: Case, body: str, uploads=None):
    """The customer's reply (a customer entry; a pending/resolved case opens again)."""
    from rapport.cases.services import case_customer_message

    body = (body or "").strip()
    if not body:
        raise _error("body", "Write a message", "required")
    uploads = list(uploads or [])
    _check_uploads(uploads)
    if case.merged_into_id:
        raise PermissionDenied("This case was merged into another")
    with transaction.atomic():
        entry = case_customer_message(case=case, body=body)
        _attach(case, portal_user, uploads, entry=entry)
    return entry


def portal_case_close(*, portal_user: PortalUser, case: Case) -> Case:
    from rapport.cases.services import case_set_status

    if case.status == CaseStatus.CLOSED:
        return case
    return case_set_status(
        case=case, status=CaseStatus.CLOSED, actor=None, reason="closed by the customer"
    )


def portal_preferences_save(
    *, portal_user: PortalUser, chosen: set, unsubscribe_all: bool, ip=None, user_agent=""
):
    """The consent preference centre's own service, for the signed-in contact."""
    from rapport.consent import services as consent_services
    from rapport.consent import tokens

    token = tokens.make_preferences_token(
        person=tokens.person_ref(contact_id=portal_user.contact_id, lead_id=None),
        address=portal_user.email,
    )
    return consent_services.preferences_save(
        token=token, chosen=chosen, unsubscribe_all=unsubscribe_all, ip=ip, user_agent=user_agent
    )
