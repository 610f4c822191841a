"""Browser journey: a rep creates a sequence (email, then a call task), enrols a contact from
the contact's page, the worker sends step 1 through the outbox to a real loopback SMTP
server and the call task appears; the sequence's page counts it. Screenshots at 1440×900
and 390×844."""

import pytest

from rapport.activities.models import Activity
from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.mail.models import Delivery, MailMessage
from rapport.mail.tests.conftest import make_mailbox
from rapport.sequences.models import Enrolment, Sequence

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = "sequences"


def test_rep_creates_a_sequence_enrols_a_contact_and_the_worker_runs_step_one(
    page, personas, screenshot, smtp_server, template, ann
):
    page.context.set_default_timeout(120_000)  # a loaded CI machine
    page.context.set_default_navigation_timeout(180_000)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    make_mailbox(smtp_server, owner=personas.owner)
    sign_in(page, personas.owner)

    page.goto("/sequences/")
    page.wait_for_load_state("load")
    page.get_by_role("link", name="New sequence").first.click()
    page.wait_for_load_state("load")
    page.fill("#id_name", "Intro and call")
    page.select_option("#id_step_0_kind", "email")
    page.select_option("#id_step_0_template", str(template.pk))
    page.select_option("#id_step_1_kind", "call")
    page.fill("#id_step_1_subject", "Call about the intro")
    shots_at_both_sizes(page, screenshot, f"{SHOTS}-form")
    page.get_by_role("button", name="Create sequence").click()
    page.get_by_role("heading", name="Steps").wait_for()
    sequence = Sequence.objects.get(name="Intro and call")
    assert [s.kind for s in sequence.steps.order_by("position")] == ["email", "call"]

    page.goto(f"/contacts/{ann.pk}")
    page.wait_for_load_state("load")
    card = page.locator("#sequences-card")
    card.get_by_text("Not in any sequence.").wait_for()
    page.select_option("#enrol-sequence", str(sequence.pk))
    card.get_by_role("button", name="Enrol").click()
    page.wait_for_load_state("load")
    # The immediate task backend is the worker: step 1 was sent on commit, step 2 followed.
    card.locator(".status").first.wait_for()
    enrolment = Enrolment.objects.get(contact=ann)
    message = MailMessage.objects.get(direction="out")
    assert Delivery.objects.get(message=message).state == "sent"
    (received,) = smtp_server.sink.messages
    assert received.message["Subject"] == "Hello Ann"
    task = Activity.objects.get(contact=ann, kind="task")
    assert task.subject == "Call: Call about the intro" and task.owner == personas.owner
    assert enrolment.state in ("active", "finished")
    shots_at_both_sizes(page, screenshot, f"{SHOTS}-contact-card")

    page.goto(f"/sequences/{sequence.pk}/")
    page.wait_for_load_state("load")
    steps = page.locator("table").first.inner_text()
    assert "Email: Intro" in steps and "0 of 1" in steps
    shots_at_both_sizes(page, screenshot, f"{SHOTS}-detail")
    page.goto("/activities/")
    page.wait_for_load_state("load")
    assert "Call: Call about the intro" in page.locator("main").inner_text()
    page.goto("/sequences/")
    page.wait_for_load_state("load")
    shots_at_both_sizes(page, screenshot, f"{SHOTS}-list")
    assert not errors, errors
