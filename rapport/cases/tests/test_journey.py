"""The service desk journey in Chromium: a customer's mail arrives in the support mailbox →
a case in the queue → the agent answers with a macro (the reply reaches the customer's SMTP
sink) → the customer replies on the same thread → the agent resolves the case."""

import pytest

from rapport.cases.models import Case, Macro
from rapport.cases.tests.journey import (
    CSP_LISTENER,
    agent_with_customer,
    customer_mail,
    support_mailbox,
    support_queue,
)
from rapport.conftest import sign_in
from rapport.mail.inbound import ingest_raw
from rapport.mail.sender import send_due
from rapport.mail.tests.smtp_server import SmtpServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_mail_to_case_macro_reply_customer_answer_resolved(page, screenshot):
    agent, account = agent_with_customer()
    with SmtpServer() as smtp:
        box = support_mailbox(smtp)
        queue = support_queue(box, agent)
        Macro.objects.create(
            name="Ask for the order",
            body="Hello {{ contact.first_name }}, which order is it? {{ agent.first_name }}",
            set_fields={"status": "pending_customer"},
        )
        ingest_raw(box, customer_mail("Parcel missing", "My parcel never came.").as_bytes())
        case = Case.objects.get()
        assert case.queue == queue and case.owner is None

        page.set_default_timeout(60_000)
        problems: list[str] = []
        page.on(
            "console",
            lambda m: (
                problems.append(m.text)
                if m.type == "error" and "/knowledge/" not in m.text and "404" not in m.text
                else None
            ),
        )
        page.context.add_init_script(CSP_LISTENER)
        sign_in(page, agent)
        page.goto("/cases/?view=unassigned")
        page.get_by_role("link", name="Parcel missing").click()
        page.wait_for_url(f"**/cases/{case.pk}/")
        page.select_option("#macro-picker", label="Ask for the order")
        from playwright.sync_api import expect

        expect(page.locator("#case-reply-body")).to_have_value(
            "Hello Ann, which order is it? Alice"
        )
        screenshot(page, "cases-journey-macro", full_page=True)
        page.get_by_role("button", name="Send").click()
        page.wait_for_url(f"**/cases/{case.pk}/**")
        case.refresh_from_db()
        assert case.status == "pending_customer" and case.first_response_at is not None

        send_due()
        assert [m.rcpt_tos for m in smtp.sink.messages] == [["ann@customer.example"]]
        sent = smtp.sink.messages[0]
        assert "which order is it? Alice" in sent.message.get_body().get_content()

        ingest_raw(
            box,
            customer_mail(
                "Re: Parcel missing",
                "Order 4711.",
                headers={"In-Reply-To": sent.message_id, "References": sent.message_id},
            ).as_bytes(),
        )
        assert Case.objects.count() == 1
        page.reload()
        assert page.locator(".case-entry-customer").count() == 2
        assert "Order 4711." in page.locator(".case-conversation").inner_text()
        page.select_option(".case-controls select[name=status]", "resolved")
        page.locator(".case-controls").get_by_role("button", name="Save").click()
        page.wait_for_load_state()
        case.refresh_from_db()
        assert case.status == "resolved" and case.resolved_at is not None
        screenshot(page, "cases-journey-resolved", full_page=True)
        send_due()
        # Nothing answered twice; resolving sent the CSAT survey (rapport/surveys) only.
        later = [str(m.message["Subject"]) for m in smtp.sink.messages[1:]]
        assert len(later) == 1 and later[0].startswith("How did we do?"), later
    assert problems == [] and page.errors == []
