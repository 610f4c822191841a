"""How a sequence runs on the automation engine: the `sequence_step` / `sequence_finish`
actions its rule is made of, the `enrol_in_sequence` action other rules may use, and the
listeners that stop an enrolment on a reply, a bounce or a booked meeting.

Every step handler runs inside the engine's step transaction and first writes an
`EnrolmentStep` (unique per enrolment and step) beside what it makes, so an email is queued in
the one mail outbox at most once even when a worker dies mid-step and the run is resumed."""

import datetime
import logging

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from rapport.automation.actions import (
    STOP_RUN,
    ActionContext,
    ActionFailed,
    ActionPostponed,
    ActionSpec,
    Param,
)
from rapport.sequences import services
from rapport.sequences.models import (
    Enrolment,
    EnrolmentState,
    EnrolmentStep,
    SequenceStep,
    StepKind,
    StopReason,
)

log = logging.getLogger(__name__)

OPEN = [EnrolmentState.ACTIVE, EnrolmentState.PAUSED]


def _enrolment(ctx: ActionContext) -> Enrolment:
    enrolment_id = (ctx.run.input or {}).get("enrolment_id")
    enrolment = (
        Enrolment.objects.select_for_update(of=("self",))
        .select_related("sequence", "rep", "contact", "lead")
        .filter(pk=enrolment_id)
        .first()
    )
    if enrolment is None:
        raise ActionFailed("This run belongs to no sequence enrolment (start it by enrolling)")
    return enrolment


def _gate(enrolment: Enrolment) -> dict | None:
    """None to go on; a STOP_RUN output when the enrolment is over; postpones while paused."""
    if enrolment.state == EnrolmentState.PAUSED:
        raise ActionPostponed(services.until_resumed(), "paused")
    if enrolment.state != EnrolmentState.ACTIVE:
        return {STOP_RUN: True, "reason": f"Enrolment {enrolment.get_state_display().lower()}"}
    reason = _engaged(enrolment)
    if reason:
        services.enrolment_stop(enrolment=enrolment, actor=None, reason=reason)
        return {STOP_RUN: True, "reason": f"Stopped: {StopReason(reason).label}"}
    return None


def _person_q(enrolment: Enrolment) -> Q:
    return (
        Q(contact_id=enrolment.contact_id) if enrolment.contact_id else Q(lead_id=enrolment.lead_id)
    )


def _engaged(enrolment: Enrolment) -> str:
    """A reply or a meeting since the enrolment began (also caught at once by the listeners
    below; this check holds when a listener was not reached, e.g. a message filed later)."""
    from rapport.activities.models import Activity, ActivityKind
    from rapport.mail.models import Direction, MessageLink

    person = _person_q(enrolment)
    if MessageLink.objects.filter(
        person,
        message__direction=Direction.INBOUND,
        message__is_auto_reply=False,
        message__is_bounce=False,
        message__received_at__gte=enrolment.enrolled_at,
    ).exists():
        return StopReason.REPLIED
    meetings = Activity.objects.filter(
        kind=ActivityKind.MEETING, created_at__gte=enrolment.enrolled_at
    )
    if meetings.filter(person).exists():
        return StopReason.MEETING
    return ""


def _done(enrolment: Enrolment, step: SequenceStep, ctx: ActionContext, **made) -> EnrolmentStep:
    return EnrolmentStep.objects.create(enrolment=enrolment, step=step, done_at=ctx.now, **made)


def run_step(ctx: ActionContext, params: dict) -> dict:
    enrolment = _enrolment(ctx)
    stop = _gate(enrolment)
    if stop:
        return stop
    step = SequenceStep.objects.filter(
        pk=params.get("step_id"), sequence_id=enrolment.sequence_id
    ).first()
    if step is None:
        raise ActionFailed("The sequence step no longer exists")
    already = EnrolmentStep.objects.filter(enrolment=enrolment, step=step).first()
    if already is not None:  # belt and braces: the engine already skips a done step
        return {"enrolment_step_id": already.pk, "already_done": True}
    if step.kind == StepKind.EMAIL:
        return _email(ctx, enrolment, step)
    return _task(ctx, enrolment, step)


def _opted_out(enrolment: Enrolment) -> bool:
    from rapport.consent.models import Channel, ConsentState, ConsentStatus

    return ConsentState.objects.filter(
        _person_q(enrolment), channel=Channel.EMAIL, status=ConsentStatus.OPTED_OUT
    ).exists()


def _mailbox_id(rep) -> int | None:
    from rapport.mail.selectors import mailboxes_to_send_from

    own = mailboxes_to_send_from(rep).filter(owner=rep).order_by("id").first()
    if own is not None:
        return own.pk
    shared = mailboxes_to_send_from(rep).order_by("id").first()
    return shared.pk if shared else None


def _email(ctx: ActionContext, enrolment: Enrolment, step: SequenceStep) -> dict:
    from rapport.mail.config_services import send_from_record
    from rapport.mail.gate import may_send

    person = enrolment.person
    to = (person.email or "").strip()
    if not to:
        _done(enrolment, step, ctx, skipped="no email address")
        return {"skipped": "no email address"}
    template = step.template
    if template is None or not template.active:
        raise ActionFailed("The step's email template is missing or inactive")
    # An unsubscribe ends the sequence whatever the template's purpose (a person who said
    # "no more email" gets no more sales email either); bounces and marketing consent are
    # the one gate's answer.
    reason = StopReason.UNSUBSCRIBED if _opted_out(enrolment) else ""
    if not reason:
        allowed, why = may_send(to, template.purpose, template.consent_purpose_id)
        if not allowed:
            reason = StopReason.BOUNCED if "bounce" in why else StopReason.UNSUBSCRIBED
    if reason:
        services.enrolment_stop(enrolment=enrolment, actor=None, reason=reason)
        return {STOP_RUN: True, "reason": f"Stopped: {StopReason(reason).label}"}
    try:
        message = send_from_record(
            actor=enrolment.rep,
            record=person,
            to=[to],
            subject=template.subject,
            text=template.body_text,
            html=template.body_html,
            template=template,
            mailbox_id=_mailbox_id(enrolment.rep),
        )
    except ValidationError as exc:
        raise ActionFailed("; ".join(exc.messages)) from exc
    _done(enrolment, step, ctx, message=message)
    services._event(
        enrolment,
        None,
        f"Sequence {enrolment.sequence.name}: step {step.position + 1} emailed “{message.subject}”",
        step_id=step.pk,
        message_id=message.pk,
    )
    return {"message_id": message.pk, "to": to}


def _task(ctx: ActionContext, enrolment: Enrolment, step: SequenceStep) -> dict:
    from rapport.activities.services import activity_log
    from rapport.calendars.services import business_time_add

    due = business_time_add(
        calendar=enrolment.sequence.calendar, start=ctx.now, days=step.due_in_days
    )
    prefix = {StepKind.CALL: "Call", StepKind.LINKEDIN: "LinkedIn"}.get(step.kind)
    subject = f"{prefix}: {step.subject}" if prefix else step.subject
    try:
        activity, _ = activity_log(
            actor=enrolment.rep,
            kind="task",
            fields={
                "subject": subject[:200],
                "body": f"Sequence {enrolment.sequence.name}, step {step.position + 1}\n\n"
                f"{step.notes}".strip(),
                "due_at": due,
            },
            links={f"{enrolment.object_type}_id": enrolment.person.pk},
            owner=enrolment.rep,
            # A retried or resumed step finds the task it made instead of making another.
            external_id=f"sequence-enrolment-{enrolment.pk}-step-{step.pk}",
            source="sequence",
        )
    except ValidationError as exc:
        raise ActionFailed("; ".join(exc.messages)) from exc
    _done(enrolment, step, ctx, activity=activity)
    return {"activity_id": activity.pk}


def finish(ctx: ActionContext, params: dict) -> dict:
    enrolment = _enrolment(ctx)
    stop = _gate(enrolment)
    if stop:
        return stop
    enrolment.state, enrolment.ended_at = EnrolmentState.FINISHED, ctx.now
    enrolment.save(update_fields=["state", "ended_at"])
    services._event(enrolment, None, f"Sequence {enrolment.sequence.name} finished")
    return {"finished": True}


def enrol(ctx: ActionContext, params: dict) -> dict:
    """A rule's action: enrol the run's contact or lead (as the rule's user, who must see it)."""
    from rapport.sequences.models import Sequence

    if ctx.subject is None:
        raise ActionFailed("This action needs a contact or lead")
    sequence = Sequence.objects.filter(pk=params.get("sequence_id")).first()
    if sequence is None:
        raise ActionFailed(f"No sequence #{params.get('sequence_id')}")
    try:
        enrolment = services.enrolment_create(
            sequence=sequence, actor=ctx.actor, record=ctx.subject
        )
    except ValidationError as exc:
        errors = exc.error_dict.get("record", []) if hasattr(exc, "error_dict") else []
        if any(getattr(e, "code", "") == "already_enrolled" for e in errors):
            return {"skipped": "already in the sequence"}
        raise ActionFailed("; ".join(exc.messages)) from exc
    return {"enrolment_id": enrolment.pk}


def action_specs() -> list[ActionSpec]:
    return [
        ActionSpec(
            "sequence_step",
            "Sequence step",
            run_step,
            [Param("step_id", "Step", "int")],
            ("contact", "lead"),
            provided_by="sequences",
        ),
        ActionSpec(
            "sequence_finish",
            "Sequence finished",
            finish,
            [],
            ("contact", "lead"),
            provided_by="sequences",
        ),
        ActionSpec(
            "enrol_in_sequence",
            "Enrol in a sequence",
            enrol,
            [Param("sequence_id", "Sequence", "int", required=True)],
            ("contact", "lead"),
            provided_by="sequences",
        ),
    ]


# ----- stopping on a reply, a bounce or a meeting -------------------------------------------


def on_mail_ingested(messages, mailbox) -> None:
    """After the mail sync stored messages (a chunk of them, in order; registered with
    `register_after_ingest_many`): a reply in the thread of a sequence email (or any mail from
    the enrolled person) stops the enrolment; a bounce of a sequence email too. The messages
    are judged in turn, as one by one, but the reply lookups are one query each for the whole
    chunk, and there is one query in all when no enrolment is open (the usual case)."""
    from rapport.mail.models import DeliveryState, Direction, MessageLink

    inbound = [m for m in messages if m.direction == Direction.INBOUND]
    if not inbound or not Enrolment.objects.filter(state__in=OPEN).exists():
        return
    replies = [m for m in inbound if not m.is_bounce and not m.is_auto_reply]
    steps_by_thread: dict[int, list] = {}
    people: dict[int, tuple[set, set]] = {m.pk: (set(), set()) for m in replies}
    candidates: list[Enrolment] = []
    if replies:
        for done in EnrolmentStep.objects.filter(
            enrolment__state__in=OPEN, message__thread_id__in={m.thread_id for m in replies}
        ).select_related("enrolment", "step", "message"):
            steps_by_thread.setdefault(done.message.thread_id, []).append(done)
        for message_id, contact_id, lead_id in MessageLink.objects.filter(
            message_id__in=list(people)
        ).values_list("message_id", "contact_id", "lead_id"):
            if contact_id:
                people[message_id][0].add(contact_id)
            if lead_id:
                people[message_id][1].add(lead_id)
        all_contacts = set().union(*(c for c, _ in people.values()))
        all_leads = set().union(*(ld for _, ld in people.values()))
        if all_contacts or all_leads:
            candidates = list(
                Enrolment.objects.filter(
                    Q(contact_id__in=all_contacts) | Q(lead_id__in=all_leads), state__in=OPEN
                )
            )
    stopped: set[int] = set()
    for message in inbound:
        if message.is_bounce:
            bounced = EnrolmentStep.objects.filter(
                enrolment__state__in=OPEN,
                message__delivery__state=DeliveryState.FAILED,
                message__delivery__last_error__startswith="Bounced",
            ).select_related("enrolment")
            for done in bounced:
                services.enrolment_stop(
                    enrolment=done.enrolment, actor=None, reason=StopReason.BOUNCED
                )
                stopped.add(done.enrolment_id)
            continue
        if message.is_auto_reply:
            continue
        for done in steps_by_thread.get(message.thread_id, []):
            if done.enrolment_id not in stopped:
                services.enrolment_stop(
                    enrolment=done.enrolment, actor=None, reason=StopReason.REPLIED, step=done.step
                )
                stopped.add(done.enrolment_id)
        contact_ids, lead_ids = people[message.pk]
        for enrolment in candidates:
            if enrolment.pk in stopped or enrolment.enrolled_at > message.received_at:
                continue
            if enrolment.contact_id not in contact_ids and enrolment.lead_id not in lead_ids:
                continue
            last = enrolment.done_steps.filter(message__isnull=False).order_by("-done_at").first()
            services.enrolment_stop(
                enrolment=enrolment,
                actor=None,
                reason=StopReason.REPLIED,
                step=last.step if last else None,
            )
            stopped.add(enrolment.pk)


def on_timeline_events(events: list[dict]) -> None:
    """A meeting logged (or booked) with an enrolled person stops the enrolment."""
    activity_ids = [
        e["activity_id"]
        for e in events
        if e.get("kind") == "activity_logged" and e.get("activity_id")
    ]
    if not activity_ids:
        return
    from rapport.activities.models import Activity, ActivityKind

    meetings = list(
        Activity.objects.filter(pk__in=activity_ids, kind=ActivityKind.MEETING).values_list(
            "contact_id", "lead_id"
        )
    )
    if not meetings:
        return
    contact_ids = {c for c, _ in meetings if c}
    lead_ids = {lead for _, lead in meetings if lead}
    for enrolment in Enrolment.objects.filter(
        Q(contact_id__in=contact_ids) | Q(lead_id__in=lead_ids), state__in=OPEN
    ):
        services.enrolment_stop(enrolment=enrolment, actor=None, reason=StopReason.MEETING)


def next_step_at(enrolment: Enrolment) -> datetime.datetime | None:
    if not enrolment.is_open or not enrolment.run_id:
        return None
    return enrolment.run.next_run_at if enrolment.run else timezone.now()


def rule_owners(rule_ids: list[int]) -> dict:
    """{rule id: RuleOwner} for the sequences whose rules are among `rule_ids`
    (rapport.automation.owners): those rules are read-only in the Automation settings."""
    from django.urls import reverse

    from rapport.automation.owners import RuleOwner
    from rapport.sequences.models import Sequence

    return {
        sequence.rule_id: RuleOwner(
            label=f"the sequence “{sequence.name}”",
            url=reverse("sequences:detail", args=[sequence.pk]),
        )
        for sequence in Sequence.objects.filter(rule_id__in=rule_ids).only("pk", "name", "rule_id")
    }
