"""Sequences on the automation engine: each step kind, business-day waits on a frozen clock,
pause / resume, the stops (meeting, unsubscribe, bounce), a killed worker, visibility."""

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from rapport.accounts.services import contact_create
from rapport.activities.models import Activity
from rapport.activities.services import activity_log
from rapport.automation import engine
from rapport.automation.models import Run
from rapport.automation.services import rule_create
from rapport.consent.models import Channel
from rapport.mail.models import AddressStatus, BounceKind, Delivery, MailMessage
from rapport.records.exceptions import Conflict, RecordNotFound
from rapport.sequences import selectors, services
from rapport.sequences.models import Enrolment, EnrolmentStep
from rapport.timeline import hooks

pytestmark = pytest.mark.django_db

FRIDAY = datetime.datetime(2026, 12, 4, 10, 0, tzinfo=datetime.UTC)


def _state(enrolment):
    enrolment = Enrolment.objects.get(pk=enrolment.pk)
    return enrolment.state, enrolment.stop_reason


def test_each_step_kind_runs_once_and_waits_count_business_days(
    personas, make_sequence, ann, rep_mailbox, template, worker
):
    sequence = make_sequence(
        steps=[
            {"kind": "email", "template_id": template.pk},
            {"kind": "wait", "wait_days": 2},
            {"kind": "call", "subject": "Call about the intro", "due_in_days": 1},
            {"kind": "task", "subject": "Send the case study"},
            {"kind": "linkedin", "subject": "Connect on LinkedIn"},
        ]
    )
    with time_machine.travel(FRIDAY, tick=False):
        enrolment = services.enrolment_create(sequence=sequence, actor=personas.owner, record=ann)
        worker()
        (message,) = MailMessage.objects.all()
        assert message.to == ["ann@customer.example"]
        assert message.subject == "Hello Ann"  # the one template engine
        assert message.mailbox == rep_mailbox  # the rep's own mailbox
        assert Delivery.objects.filter(message=message).count() == 1  # the one outbox
        run = Run.objects.get(pk=enrolment.run_id)
        # Friday + 2 business days (Saturday and Sunday do not count): Tuesday.
        assert (run.state, run.next_run_at) == ("waiting", FRIDAY + datetime.timedelta(days=4))
    with time_machine.travel(FRIDAY + datetime.timedelta(days=3, hours=8), tick=False):
        worker()  # Monday evening: still waiting
        assert not Activity.objects.exists()
    with time_machine.travel(FRIDAY + datetime.timedelta(days=4, minutes=1), tick=False):
        worker()
        worker()  # a second pass repeats nothing
    tasks = list(Activity.objects.order_by("id"))
    assert [t.subject for t in tasks] == [
        "Call: Call about the intro",
        "Send the case study",
        "LinkedIn: Connect on LinkedIn",
    ]
    assert {t.owner_id for t in tasks} == {personas.owner.pk}
    assert {t.contact_id for t in tasks} == {ann.pk}
    # due in 1 business day from Tuesday 10:01 → Wednesday
    assert tasks[0].due_at.date() == datetime.date(2026, 12, 9)
    assert MailMessage.objects.count() == 1
    assert _state(enrolment) == ("finished", "")
    assert Run.objects.get(pk=enrolment.run_id).state == "done"
    stats = {row["step"].position: row for row in selectors.step_stats(sequence)}
    assert stats[0]["sent"] == 1 and stats[2]["tasks"] == 1 and stats[2]["tasks_done"] == 0


def test_pause_holds_the_next_step_and_resume_continues(personas, make_sequence, ann, worker):
    sequence = make_sequence()
    with time_machine.travel(FRIDAY, tick=False):
        enrolment = services.enrolment_create(sequence=sequence, actor=personas.owner, record=ann)
        worker()
        services.enrolment_pause(enrolment=enrolment, actor=personas.owner)
        with pytest.raises(Conflict):
            services.enrolment_pause(enrolment=enrolment, actor=personas.owner)
    with time_machine.travel(FRIDAY + datetime.timedelta(days=5), tick=False):
        worker()
        assert not Activity.objects.exists()  # paused: the call task waits
        run = Run.objects.get(pk=enrolment.run_id)
        assert run.state == "waiting" and run.next_run_at > FRIDAY + datetime.timedelta(days=300)
        services.enrolment_resume(enrolment=enrolment, actor=personas.owner)
        worker()
    assert Activity.objects.count() == 1
    assert MailMessage.objects.count() == 1
    assert _state(enrolment) == ("finished", "")


def test_a_meeting_booked_stops_the_enrolment(personas, make_sequence, ann, worker):
    sequence = make_sequence()
    with time_machine.travel(FRIDAY, tick=False):
        enrolment = services.enrolment_create(sequence=sequence, actor=personas.owner, record=ann)
        worker()
    activity_log(
        actor=personas.owner,
        kind="meeting",
        fields={"subject": "Demo", "starts_at": FRIDAY + datetime.timedelta(days=1)},
        links={"contact_id": ann.pk},
    )
    assert _state(enrolment) == ("stopped", "meeting")
    assert Run.objects.get(pk=enrolment.run_id).state == "cancelled"
    with time_machine.travel(FRIDAY + datetime.timedelta(days=10), tick=False):
        worker()
    assert not Activity.objects.filter(kind="task").exists()


def test_an_unsubscribe_stops_before_the_email(personas, make_sequence, ann, worker):
    from rapport.consent.models import ConsentPurpose
    from rapport.consent.services import consent_record

    purpose = ConsentPurpose.objects.create(name="Newsletter")
    consent_record(
        actor=personas.owner,
        person=ann,
        purpose=purpose,
        channel=Channel.EMAIL,
        action="opt_out",
        source="agent",
        note="phone call",
    )
    enrolment = services.enrolment_create(
        sequence=make_sequence(), actor=personas.owner, record=ann
    )
    worker()
    assert _state(enrolment) == ("stopped", "unsubscribed")
    assert not MailMessage.objects.exists()
    assert Run.objects.get(pk=enrolment.run_id).state == "cancelled"


def test_a_hard_bounced_address_stops_the_enrolment(personas, make_sequence, ann, worker):
    AddressStatus.objects.create(address="ann@customer.example", bounce_kind=BounceKind.HARD)
    enrolment = services.enrolment_create(
        sequence=make_sequence(), actor=personas.owner, record=ann
    )
    worker()
    assert _state(enrolment) == ("stopped", "bounced")
    assert not MailMessage.objects.exists()


def test_a_worker_killed_mid_step_does_not_repeat_the_email(
    personas, make_sequence, ann, rep_mailbox, worker
):
    """The worker dies after the email was queued but before the step committed (a listener
    raising SystemExit plays the kill): the step's transaction, outbox row included, is
    rolled back; once the lease expires the next worker sends exactly one email."""
    killed = []

    def kill_once(events):
        emailed = any("message_id" in (e.get("payload") or {}) for e in events)
        if not killed and emailed:
            killed.append(True)
            raise SystemExit("worker killed")

    hooks.timeline_listener(kill_once)
    try:
        with time_machine.travel(FRIDAY, tick=False):
            enrolment = services.enrolment_create(
                sequence=make_sequence(), actor=personas.owner, record=ann
            )
            with pytest.raises(SystemExit):
                worker()
            assert killed and not MailMessage.objects.exists()
            assert Run.objects.get(pk=enrolment.run_id).state == "running"  # its lease holds
        with time_machine.travel(FRIDAY + engine.LEASE + datetime.timedelta(seconds=1), tick=False):
            worker()
            worker()
    finally:
        hooks._listeners.remove(kill_once)
    assert MailMessage.objects.count() == 1
    assert EnrolmentStep.objects.filter(enrolment=enrolment).count() == 1


def test_a_rep_cannot_enrol_a_record_they_cannot_see(personas, make_sequence, ann):
    sequence = make_sequence()
    with pytest.raises(ValidationError) as exc:
        services.enrolment_create(sequence=sequence, actor=personas.outsider, record=ann)
    assert exc.value.error_dict["record"][0].code == "not_found"
    result = services.enrolment_create_many(
        sequence=sequence, actor=personas.outsider, object_type="contact", ids=[ann.pk]
    )
    assert result == {"enrolled": [], "skipped": {ann.pk: "not found"}}
    assert not Enrolment.objects.exists()
    enrolment = services.enrolment_create(sequence=sequence, actor=personas.owner, record=ann)
    with pytest.raises(RecordNotFound):
        services.enrolment_stop(enrolment=enrolment, actor=personas.outsider)
    assert not selectors.enrolments_visible_to(personas.outsider).exists()
    assert selectors.enrolments_visible_to(personas.manager).count() == 1


def test_enrolled_once_at_a_time_and_steps_fixed_once_used(personas, make_sequence, ann, template):
    sequence = make_sequence()
    services.enrolment_create(sequence=sequence, actor=personas.owner, record=ann)
    with pytest.raises(ValidationError) as exc:
        services.enrolment_create(sequence=sequence, actor=personas.owner, record=ann)
    assert exc.value.error_dict["record"][0].code == "already_enrolled"
    with pytest.raises(Conflict):
        services.sequence_update(
            sequence=sequence,
            actor=personas.owner,
            fields={},
            steps=[{"kind": "email", "template_id": template.pk}],
        )


def test_bad_steps_are_refused_naming_the_field(personas, make_sequence):
    for steps, field in (
        ([], "steps"),
        ([{"kind": "email"}], "steps[1].template_id"),
        ([{"kind": "call", "subject": " "}], "steps[1].subject"),
        (
            [{"kind": "task", "subject": "x"}, {"kind": "wait", "wait_days": 0}],
            "steps[2].wait_days",
        ),
        ([{"kind": "task", "subject": "x"}, {"kind": "wait", "wait_days": 3}], "steps"),
        ([{"kind": "fax"}], "steps[1].kind"),
    ):
        with pytest.raises(ValidationError) as exc:
            make_sequence(steps=steps)
        assert field in exc.value.message_dict, (steps, exc.value.message_dict)


def test_an_automation_rule_enrols_new_contacts(personas, make_sequence, worker):
    sequence = make_sequence()
    rule_create(
        actor=personas.admin,
        data={
            "name": "New contacts into outbound",
            "trigger_type": "record.created",
            "object_type": "contact",
            "actions": [{"type": "enrol_in_sequence", "params": {"sequence_id": sequence.pk}}],
        },
    )
    bob = contact_create(
        actor=personas.owner,
        fields={"first_name": "Bob", "last_name": "Ray"},
        emails=[{"email": "bob@customer.example", "is_primary": True}],
    )
    worker()
    enrolment = Enrolment.objects.get(contact=bob)
    assert enrolment.rep == personas.owner  # acts for the record's owner
    assert MailMessage.objects.filter(to=["bob@customer.example"]).count() == 1
