"""The service desk journey of issue 12's "Done means", end to end over the real loopback
servers and in Chromium:

the customer's mail goes through SMTP (aiosmtpd on loopback, acting as the company's MX: mail
for the support address is delivered into the private dovecot's INBOX by IMAP APPEND, mail
for anyone else stays in its sink) → the scheduler's sync task (`mail_sync_all_task`, the
worker's code path) reads dovecot over IMAP → a case in the queue → the agent opens it from
"unassigned in my queues", inserts the suggested knowledge-base article into the reply and
sends it (the outbox task delivers it through the same SMTP server to the customer) → the
customer's answer (another real mail) threads onto the case → the agent resolves it → the
Service dashboard's volume, first-response and SLA attainment show it, and the article
counts one resolved case."""

import re
import smtplib

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from rapport.cases.models import Case, CaseEntry
from rapport.cases.tests.journey import (
    CSP_LISTENER,
    SUPPORT,
    agent_with_customer,
    customer_mail,
    support_mailbox,
    support_queue,
)
from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.identity.models import Role
from rapport.identity.services import user_create
from rapport.knowledge.models import ArticleCaseUse
from rapport.knowledge.services import article_create
from rapport.mail.sync_tasks import mail_sync_all_task
from rapport.mail.tasks import send_due_task
from rapport.mail.tests import imap_server
from rapport.mail.tests.imap_server import PASSWORD
from rapport.mail.tests.smtp_server import Sink, SmtpServer
from rapport.sla.models import SlaEvent
from rapport.sla.policies import sla_policy_save

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

dovecot_server = imap_server.dovecot_server


class MxSink(Sink):
    """The SMTP server's handler: a message for the support address is delivered into the
    support user's INBOX on dovecot (APPEND, as a local delivery agent would); every other
    recipient's copy is kept in `messages` (the customer's side)."""

    def __init__(self, dovecot, user: str):
        super().__init__()
        self.dovecot, self.user = dovecot, user

    async def handle_DATA(self, server, session, envelope):
        if SUPPORT in envelope.rcpt_tos:
            self.dovecot.append(self.user, bytes(envelope.content))
            return "250 2.0.0 Ok: delivered to the support mailbox"
        return await super().handle_DATA(server, session, envelope)


def _send(smtp: SmtpServer, user: str, subject: str, body: str, **headers) -> str:
    """The customer's mail client: a real SMTP session to the loopback server."""
    msg = customer_mail(
        subject, body, headers={name.replace("_", "-"): value for name, value in headers.items()}
    )
    with smtplib.SMTP(smtp.host, smtp.port, timeout=30) as client:
        client.login(user, PASSWORD)
        client.send_message(msg)
    return str(msg["Message-ID"])


def _sync() -> None:
    """What the scheduler enqueues every RAPPORT_MAIL_SYNC_SECONDS (the immediate backend
    of the tests runs it in place)."""
    result = mail_sync_all_task.enqueue()
    assert all(not r["error"] for r in result.return_value), result.return_value


def test_mail_case_kb_answer_customer_reply_resolved_metrics(
    page, screenshot, dovecot_server, settings
):
    settings.RAPPORT_MAIL_CA_FILE = str(dovecot_server.cert_path)
    admin = user_create(username="boss", role=Role.ADMIN, password="x", validate=False)
    agent, account = agent_with_customer()
    article = article_create(
        actor=admin,
        title="Printer paper jam",
        body="Open tray 2, pull the jammed sheet out slowly and close the tray.",
        status="published",
    )
    sla_policy_save(
        actor=admin,
        data={"name": "Standard", "first_response_minutes": 240, "resolution_minutes": 2880},
    )
    help_user = dovecot_server.new_user("help")
    smtp = SmtpServer(user=help_user, password=PASSWORD)
    smtp.sink = smtp.controller.handler = MxSink(dovecot_server, help_user)
    with smtp:
        box = support_mailbox(smtp, dovecot=dovecot_server, user=help_user)
        queue = support_queue(box, agent)

        # The first request of a process imports the URLconf (seconds, more on a loaded
        # machine): done here, before any navigation is timed.
        reverse("cases:workspace")
        page.set_default_timeout(60_000)
        page.set_default_navigation_timeout(120_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.context.add_init_script(CSP_LISTENER)
        sign_in(page, agent)

        # 1. The mail arrives: SMTP → dovecot → the sync task → a case in the queue.
        _send(smtp, help_user, "Printer paper jam", "The printer has a paper jam again.")
        assert Case.objects.count() == 0  # nothing before the sync reads the mailbox
        _sync()
        case = Case.objects.get()
        assert (case.queue, case.owner, case.account, case.status) == (queue, None, account, "new")
        assert SlaEvent.objects.filter(case=case, kind="started").exists()

        page.goto("/cases/?view=unassigned")
        page.wait_for_load_state("load")
        page.get_by_role("link", name="Printer paper jam").first.click()
        page.wait_for_url(f"**/cases/{case.pk}/")
        page.wait_for_load_state("load")

        # 2. The agent answers with the suggested article.
        insert = page.locator(".kb-suggestion").filter(has_text="Printer paper jam")
        expect(insert.get_by_role("button", name="Insert into reply")).to_be_visible()
        with page.expect_response(lambda r: r.request.method == "POST" and "/knowledge/" in r.url):
            insert.get_by_role("button", name="Insert into reply").click()
        expect(page.locator("#case-reply-body")).to_have_value(
            re.compile(
                r"^Printer paper jam\s+Open tray 2, pull the jammed sheet out slowly and close"
                r" the tray\.\s*$"
            )
        )
        assert ArticleCaseUse.objects.filter(article=article, case=case).count() == 1
        page.locator("#case-reply-body").press("Control+Home")
        page.locator("#case-reply-body").type("Hello Ann,\n\n")
        screenshot(page, "cases-kb-journey-answer-1440", full_page=True)
        with page.expect_response(lambda r: "/compose" in r.url and r.request.method == "POST"):
            page.get_by_role("button", name="Send").click()
        page.wait_for_load_state("load")
        case.refresh_from_db()
        assert case.first_response_at is not None

        send_due_task.enqueue()
        assert [m.rcpt_tos for m in smtp.sink.messages] == [["ann@customer.example"]]
        sent = smtp.sink.messages[0]
        text = sent.message.get_body().get_content()
        assert "Hello Ann," in text and "Open tray 2, pull the jammed sheet out" in text

        # 3. The customer's answer, another real mail, threads onto the case.
        _send(
            smtp,
            help_user,
            f"Re: {sent.message['Subject']}",
            "That did it, thank you!",
            In_Reply_To=sent.message_id,
            References=sent.message_id,
        )
        _sync()
        assert Case.objects.count() == 1
        assert list(CaseEntry.objects.filter(case=case).values_list("kind", flat=True)) == [
            "customer",
            "reply",
            "customer",
        ]
        page.reload()
        page.wait_for_load_state("load")
        expect(page.locator(".case-conversation")).to_contain_text("That did it, thank you!")

        # 4. Resolved.
        page.select_option(".case-controls select[name=status]", "resolved")
        with page.expect_response(lambda r: "/controls" in r.url and r.request.method == "POST"):
            page.locator(".case-controls").get_by_role("button", name="Save").click()
        page.wait_for_load_state("load")
        case.refresh_from_db()
        assert case.status == "resolved" and case.resolved_at is not None
        expect(page.locator(".case-controls select[name=status]")).to_have_value("resolved")
        shots_at_both_sizes(page, screenshot, "cases-kb-journey-resolved")

        # 5. The Service dashboard counts it: one case, first response and resolution
        # within their SLA targets (1 of 1 decided), no backlog.
        page.goto("/analytics/service/")
        page.wait_for_load_state("load")
        stats = page.locator(".analytics-stats")
        expect(stats.locator(".stat").filter(has_text="First response SLA met")).to_contain_text(
            "1 of 1 decided"
        )
        expect(stats.locator(".stat").filter(has_text="Resolution SLA met")).to_contain_text(
            "1 of 1 decided"
        )
        expect(stats.locator(".stat").filter(has_text="Cases").first).to_contain_text("1")
        expect(stats.locator(".stat").filter(has_text="Open backlog")).to_contain_text("0")
        shots_at_both_sizes(page, screenshot, "cases-kb-journey-metrics")

        # The article's usage now counts a resolved case; nothing was answered twice.
        page.goto(f"/cases/{case.pk}/")
        page.wait_for_load_state("load")
        expect(page.locator(".kb-suggestion").filter(has_text="Printer paper jam")).to_contain_text(
            "used in 1 resolved case"
        )
        send_due_task.enqueue()
        to_customer = [str(m.message["Subject"]) for m in smtp.sink.messages]
        assert len([s for s in to_customer if s.startswith("How did we do?")]) <= 1
        assert len(to_customer) - len([s for s in to_customer if "How did we do?" in s]) == 1
    assert problems == [] and page.errors == []
