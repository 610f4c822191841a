"""The service desk journey in Chromium: a customer's mail arrives in the support mailbox →
a case in the queue → the agent answers with a macro (the reply reaches the customer's SMTP
sink) → the customer replies on the same thread → the agent resolves the case."""

import email.utils
from email.message import EmailMessage

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.cases.models import Case, Macro, Queue, QueueMember
from rapport.conftest import sign_in
from rapport.identity.services import user_create
from rapport.mail.inbound import ingest_raw
from rapport.mail.models import Mailbox, MailboxPurpose, Security
from rapport.mail.sender import send_due
from rapport.mail.tests.smtp_server import SmtpServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => console.error(
  'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
"""


def _mail(subject: str, body: str, **headers) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Ann <ann@customer.example>", "help@x.test", subject
    msg["Date"] = email.utils.format_datetime(email.utils.localtime())
    msg["Message-ID"] = email.utils.make_msgid(domain="customer.example")
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content(body)
    return msg.as_bytes()


def test_mail_to_case_macro_reply_customer_answer_resolved(page, screenshot):
    agent = user_create(username="agent", first_name="Alice", password="x", validate=False)
    account = account_create(actor=agent, fields={"name": "Customer Ltd"})
    contact_create(
        actor=agent,
        fields={"first_name": "Ann", "last_name": "Customer", "account": account},
        emails=[{"email": "ann@customer.example", "is_primary": True}],
    )
    with SmtpServer() as smtp:
        box = Mailbox.objects.create(
            name="Help",
            email_address="help@x.test",
            purpose=MailboxPurpose.SUPPORT,
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            smtp_security=Security.NONE,
        )
        queue = Queue.objects.create(name="Support", mailbox=box)
        QueueMember.objects.create(queue=queue, user=agent)
        from rapport.cases.models import RoutingRule

        RoutingRule.objects.create(name="All", queue=queue)
        Macro.objects.create(
            name="Ask for the order",
            body="Hello {{ contact.first_name }}, which order is it? {{ agent.first_name }}",
            set_fields={"status": "pending_customer"},
        )
        ingest_raw(box, _mail("Parcel missing", "My parcel never came."))
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
        page.context.add_init_script(LISTENER)
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
            _mail(
                "Re: Parcel missing",
                "Order 4711.",
                In_Reply_To=sent.message_id,
                References=sent.message_id,
            ),
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
