"""The actions other apps provide, wired into the registry's slots: `send_email` (through the
one mail outbox) and `call_webhook` (through the one webhook outbox). Both write an outbox row
inside the step's transaction, so a step that is re-run after a crash writes it again only if
the first write was rolled back with the step."""

from django.core.exceptions import ValidationError

from rapport.automation.actions import ActionContext, ActionFailed, ActionSpec, Param


def _recipient(ctx: ActionContext, params: dict) -> str:
    explicit = (params.get("to") or "").strip()
    if explicit:
        return explicit
    address = getattr(ctx.subject, "email", "") if ctx.subject is not None else ""
    if not address:
        raise ActionFailed("The record has no email address and the step names none")
    return address


def send_email(ctx: ActionContext, params: dict) -> dict:
    from rapport.mail.config_services import send_from_record
    from rapport.mail.gate import may_send
    from rapport.mail.inbound import may_auto_answer
    from rapport.mail.models import EmailTemplate, MailMessage

    if ctx.subject is None:
        raise ActionFailed("This action needs a record, and the run has none (or it was deleted)")
    message_pk = (ctx.event.get("payload") or ctx.event).get("message_id")
    if message_pk:
        received = MailMessage.objects.filter(pk=message_pk).first()
        if received is not None and not may_auto_answer(received):
            return {"skipped": "the received message is an auto-reply or a bounce: no answer"}
    name = str(params.get("template") or "").strip()
    template = (
        EmailTemplate.objects.filter(pk=int(name)).first()
        if name.isdigit()
        else EmailTemplate.objects.filter(name=name).first()
    )
    if template is None or not template.active:
        raise ActionFailed(f"No active email template {name!r}")
    if ctx.subject._meta.label == "cases.Case":  # a public reply in the case's thread
        return _send_on_case(ctx, params, template)
    to = _recipient(ctx, params)
    allowed, reason = may_send(to, template.purpose, template.consent_purpose_id)
    if not allowed:
        return {"skipped": f"{to}: {reason}"}
    try:
        message = send_from_record(
            actor=ctx.actor,
            record=ctx.subject,
            to=[to],
            subject=template.subject,
            text=template.body_text,
            html=template.body_html,
            template=template,
        )
    except ValidationError as exc:
        raise ActionFailed("; ".join(exc.messages)) from exc
    return {"message_id": message.pk, "to": to, "template": template.name}


def _send_on_case(ctx: ActionContext, params: dict, template) -> dict:
    """On a case the email is a public reply: rendered with the case's merge fields (the
    macros' context), sent from the queue's mailbox through the one outbox, in the case's
    mail thread, and recorded in its conversation (and on its SLA clock)."""
    from rapport.cases.selectors import macro_context
    from rapport.cases.services import case_reply
    from rapport.mail.gate import may_send
    from rapport.mail.rendering import TemplateProblem, render_template

    case = ctx.subject
    try:
        body = render_template(template.body_text, macro_context(case=case, user=ctx.actor))
    except TemplateProblem as exc:
        raise ActionFailed(f"The template cannot be rendered: {exc}") from exc
    explicit = (params.get("to") or "").strip()
    if explicit:
        allowed, reason = may_send(explicit, template.purpose, template.consent_purpose_id)
        if not allowed:
            return {"skipped": f"{explicit}: {reason}"}
    try:
        entry = case_reply(
            case=case, actor=ctx.actor, body=body, to=[explicit] if explicit else None
        )
    except ValidationError as exc:
        raise ActionFailed("; ".join(exc.messages)) from exc
    return {
        "entry_id": entry.pk,
        "message_id": entry.message_id,
        "template": template.name,
    }


def call_webhook(ctx: ActionContext, params: dict) -> dict:
    from rapport.webhooks.models import WebhookSubscription
    from rapport.webhooks.services import call_webhook as queue_call

    subscription = WebhookSubscription.objects.filter(pk=params.get("subscription_id")).first()
    if subscription is None:
        raise ActionFailed("The webhook subscription no longer exists")
    subject = ctx.subject
    payload = {
        "rule": {"id": ctx.rule.pk, "name": ctx.rule.name},
        "run": ctx.run.pk,
        "event": ctx.event,
        "record": (
            {"type": ctx.run.object_type, "id": subject.pk, "name": str(subject)}
            if subject is not None
            else None
        ),
    }
    try:
        delivery = queue_call(
            subscription.url,
            payload,
            idempotency_key=f"automation-run-{ctx.run.pk}-{params.get('_path', '')}",
            secret=subscription.secret or None,
        )
    except ValidationError as exc:
        raise ActionFailed("; ".join(exc.messages)) from exc
    return {"delivery_id": delivery.pk, "url": subscription.url}


def provided_actions() -> list[ActionSpec]:
    return [
        ActionSpec(
            "send_email",
            "Send an email from a template",
            send_email,
            [
                Param("template", "Template (name or id)", required=True),
                Param("to", "To (empty: the record's email)"),
            ],
            subject_types=("contact", "lead", "account", "opportunity", "case"),
            provided_by="mail",
        ),
        ActionSpec(
            "call_webhook",
            "Call an outbound webhook",
            call_webhook,
            [Param("subscription_id", "Webhook subscription", "int", required=True)],
            provided_by="webhooks",
        ),
    ]
