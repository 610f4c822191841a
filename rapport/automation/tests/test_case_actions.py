"""The built-in actions on cases: a rule whose object is a case updates its fields, assigns
its owner, creates a task for it, adds and removes tags and sends an email — through the
service desk's services (versioned update, assignment, SLA hook, timeline, the case's mail
thread through the one outbox)."""

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.activities.models import Activity
from rapport.cases.models import Case, CaseEntry, Queue
from rapport.cases.services import case_create
from rapport.mail.models import EmailTemplate, Mailbox, MailMessage
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(personas):
    account = account_create(actor=personas.owner, fields={"name": "Customer Ltd"})
    ann = contact_create(
        actor=personas.owner,
        fields={"first_name": "Ann", "last_name": "Customer", "account": account},
        emails=[{"email": "ann@customer.example", "is_primary": True}],
    )
    box = Mailbox.objects.create(name="Help", email_address="help@rapport.test")
    queue = Queue.objects.create(name="Support", mailbox=box)
    return {"account": account, "ann": ann, "queue": queue}


def _open(personas, customer, **fields) -> Case:
    return case_create(
        actor=personas.admin,
        fields={
            "subject": "Printer on fire",
            "contact": customer["ann"],
            "queue": customer["queue"],
            "channel": "email",
            **fields,
        },
    )


def _case_rule(make_rule, actions, **data):
    return make_rule(object_type="case", actions=actions, **data)


def test_update_fields_assign_owner_and_tags_act_on_the_case(personas, customer, make_rule, worker):
    _case_rule(
        make_rule,
        [
            {"type": "update_fields", "params": {"fields": {"priority": "urgent", "tier": "gold"}}},
            {"type": "assign_owner", "params": {"mode": "user", "user_id": personas.teammate.pk}},
            {"type": "add_tag", "params": {"tag": "fire"}},
            {"type": "add_tag", "params": {"tag": "hardware"}},
            {"type": "remove_tag", "params": {"tag": "hardware"}},
        ],
    )
    case = _open(personas, customer)
    (run,) = worker()
    assert run.state == "done", run.error
    case.refresh_from_db()
    assert (case.priority, case.tier, case.owner_id) == ("urgent", "gold", personas.teammate.pk)
    assert sorted(case.tags.values_list("name", flat=True)) == ["fire"]
    assert case.version > 1
    summaries = list(
        TimelineEvent.objects.filter(case_id=case.pk).values_list("summary", flat=True)
    )
    assert any("priority" in s and "changed" in s for s in summaries)
    assert any("assigned to" in s for s in summaries)
    assert any("tags changed" in s for s in summaries)
    # The SLA hook saw the priority change (the due fields follow the case's policy).
    assert case.sla_events.filter(kind="opened").exists()


def test_update_fields_rejects_an_invalid_case_value_without_retrying(
    personas, customer, make_rule, worker
):
    _case_rule(
        make_rule,
        [{"type": "update_fields", "params": {"fields": {"priority": "whenever"}}}],
    )
    case = _open(personas, customer)
    (run,) = worker()
    assert run.state == "failed"
    case.refresh_from_db()
    assert case.priority == "normal"


def test_create_task_for_a_case_links_its_customer_and_names_the_case(
    personas, customer, make_rule, worker
):
    _case_rule(
        make_rule,
        [
            {"type": "assign_owner", "params": {"mode": "user", "user_id": personas.owner.pk}},
            {"type": "create_task", "params": {"subject": "Call the customer", "due_in_days": 1}},
        ],
    )
    case = _open(personas, customer)
    (run,) = worker()
    assert run.state == "done", run.error
    task = Activity.objects.get(subject="Call the customer")
    assert task.owner_id == personas.owner.pk
    assert (task.account_id, task.contact_id) == (customer["account"].pk, customer["ann"].pk)
    assert f"Case #{case.number}" in task.body and f"/cases/{case.pk}/" in task.body


def test_create_task_on_an_unowned_case_fails_plainly(personas, customer, make_rule, worker):
    _case_rule(make_rule, [{"type": "create_task", "params": {"subject": "Look"}}])
    _open(personas, customer)
    (run,) = worker()
    assert run.state == "failed" and "no owner" in run.error
    assert not Activity.objects.exists()


def test_least_loaded_counts_open_cases_only(personas, customer, make_rule, worker):
    busy, idle = personas.owner, personas.teammate
    for i in range(3):  # the owner's history: resolved cases are no load
        Case.objects.create(number=900 + i, subject="old", owner=busy, status="resolved")
    Case.objects.create(number=950, subject="open", owner=idle, status="open")
    _case_rule(
        make_rule,
        [
            {
                "type": "assign_owner",
                "params": {"mode": "least_loaded", "team_id": personas.team_a.pk},
            }
        ],
    )
    case = _open(personas, customer)
    (run,) = worker()
    assert run.state == "done", run.error
    case.refresh_from_db()
    # Team A: manager, owner, teammate, reader… the least open work goes first; the owner
    # (3 resolved) is not "loaded", the teammate (1 open) is.
    assert case.owner_id != idle.pk


def test_send_email_on_a_case_is_a_public_reply_in_its_thread(
    personas, customer, make_rule, worker
):
    EmailTemplate.objects.create(
        name="Ack",
        purpose="transactional",
        subject="We got it",
        body_text="Hello {{ contact.first_name }}, case {{ case.number }} is with us.",
    )
    _case_rule(make_rule, [{"type": "send_email", "params": {"template": "Ack"}}])
    case = _open(personas, customer)
    (run,) = worker()
    assert run.state == "done", run.error
    entry = CaseEntry.objects.get(case=case, kind="reply")
    assert entry.body == f"Hello Ann, case {case.number} is with us."
    message = MailMessage.objects.get(pk=entry.message_id)
    assert message.to == ["ann@customer.example"]
    assert message.direction == "out" and message.thread_id
    case.refresh_from_db()
    assert case.first_response_at is not None
