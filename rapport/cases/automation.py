"""The `create_case` action of the automation engine (the slot the registry reserves for
the service desk): a rule opens a case for the record it runs on, through `case_create`."""

from django.core.exceptions import ValidationError

from rapport.automation.actions import ActionContext, ActionFailed, ActionSpec, Param


def _customer_fields(ctx: ActionContext) -> dict:
    subject = ctx.subject
    object_type = ctx.run.object_type
    if subject is None:
        return {}
    if object_type == "contact":
        return {"contact": subject, "account": subject.account}
    if object_type == "account":
        return {"account": subject}
    if object_type in ("opportunity", "order", "activity"):
        fields = {}
        if getattr(subject, "account_id", None):
            fields["account"] = subject.account
        if getattr(subject, "contact_id", None):
            fields["contact"] = subject.contact
        return fields
    return {}


def create_case(ctx: ActionContext, params: dict) -> dict:
    from rapport.cases.models import CaseChannel, CasePriority, Queue
    from rapport.cases.services import case_create

    subject = (params.get("subject") or "").strip()
    if not subject:
        raise ActionFailed("Give the case a subject")
    fields = {
        "subject": subject[:250],
        "description": params.get("description") or "",
        "channel": CaseChannel.WEB_FORM,
        **_customer_fields(ctx),
    }
    priority = params.get("priority") or ""
    if priority:
        if priority not in CasePriority.values:
            raise ActionFailed(f"Unknown priority {priority!r}")
        fields["priority"] = priority
    queue_id = params.get("queue_id")
    if queue_id:
        queue = Queue.objects.filter(pk=queue_id, is_active=True).first()
        if queue is None:
            raise ActionFailed(f"No active queue #{queue_id}")
        fields["queue"] = queue
    try:
        case = case_create(actor=ctx.actor, fields=fields)
    except ValidationError as exc:
        raise ActionFailed("; ".join(exc.messages)) from exc
    return {"case_id": case.pk, "number": case.number}


def create_case_action() -> ActionSpec:
    from rapport.cases.models import CasePriority

    return ActionSpec(
        "create_case",
        "Create a case",
        create_case,
        [
            Param("subject", "Subject", required=True),
            Param("description", "Description"),
            Param("priority", "Priority", "choice", choices=list(CasePriority.choices)),
            Param("queue_id", "Queue (empty: routing rules)", "int"),
        ],
        provided_by="service",
    )
