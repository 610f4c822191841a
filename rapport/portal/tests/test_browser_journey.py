"""The after-sale journey in Chromium: a customer (phone-sized screen) asks for a magic link,
reads it from the loopback SMTP sink, signs in, opens a case; the agent (a separate staff
browser context) answers and resolves it; the customer sees the answer and rates it through
the CSAT link mailed on resolution."""

import re

import pytest
from django.urls import get_resolver
from playwright.sync_api import expect

from rapport.accounts.services import account_create, contact_create
from rapport.cases.models import Case, Queue, QueueMember
from rapport.conftest import PHONE_SIZE, shots_at_both_sizes, sign_in
from rapport.identity.services import user_create
from rapport.mail.models import Mailbox, MailboxPurpose, Security
from rapport.mail.sender import send_due
from rapport.mail.tests.smtp_server import SmtpServer
from rapport.portal.models import PortalUser
from rapport.surveys.models import SurveyInvitation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => console.error(
  'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
"""


def _body(received) -> str:
    return received.message.get_body(preferencelist=("plain",)).get_content()


def _no_overflow(tab) -> None:
    assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), tab.url


def test_magic_link_case_answer_and_csat(browser, live_server, screenshot):
    # Import every view before the first page: on a loaded machine the live server's first
    # request otherwise spends most of the navigation timeout importing the URL conf.
    get_resolver().reverse_dict  # noqa: B018
    agent = user_create(username="agent", first_name="Alice", password="x", validate=False)
    account = account_create(actor=agent, fields={"name": "Customer Ltd"})
    ann = contact_create(
        actor=agent,
        fields={"first_name": "Ann", "last_name": "Customer", "account": account},
        emails=[{"email": "ann@customer.example", "is_primary": True}],
    )
    PortalUser.objects.create(contact=ann, email="ann@customer.example")
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

        phone = browser.new_context(viewport=PHONE_SIZE, base_url=live_server.url)
        phone.set_default_timeout(60_000)
        phone.add_init_script(CSP_LISTENER)
        customer = phone.new_page()
        problems: list[str] = []
        customer.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        customer.on("pageerror", lambda e: problems.append(str(e)))

        # 1. The customer asks for a sign-in link and reads it from the SMTP sink.
        customer.goto("/portal/")
        customer.wait_for_url("**/portal/login/**")
        customer.get_by_label("Email address").fill("ann@customer.example")
        customer.get_by_role("button", name="Email me a sign-in link").click()
        expect(customer.get_by_role("status")).to_contain_text("a sign-in link is on its way")
        send_due()
        assert [m.rcpt_tos for m in smtp.sink.messages] == [["ann@customer.example"]]
        link = re.search(r"https?://\S+/portal/login/\S+/", _body(smtp.sink.messages[0])).group(0)
        customer.goto(re.sub(r"^https?://[^/]+", "", link))
        customer.get_by_role("button", name="Sign in").click()
        customer.wait_for_url("**/portal/")
        _no_overflow(customer)

        # 2. The customer opens a case.
        customer.get_by_role("link", name="New request").click()
        customer.get_by_label("Subject").fill("Printer shows E42")
        customer.get_by_label("Description").fill("Since this morning the printer shows E42.")
        shots_at_both_sizes(customer, screenshot, "portal-journey-new-request", leave_at_phone=True)
        customer.get_by_role("button", name="Send").click()
        customer.wait_for_url(re.compile(r".*/portal/cases/\d+/$"))
        case = Case.objects.get()
        assert case.contact_id == ann.pk and case.channel == "portal" and case.queue == queue

        # 3. The agent answers and resolves, in a staff browser context.
        desk = browser.new_context(
            viewport={"width": 1440, "height": 900}, base_url=live_server.url
        )
        desk.set_default_timeout(60_000)
        staff = desk.new_page()
        sign_in(staff, agent, url=live_server.url)
        staff.goto(f"/cases/{case.pk}/")
        staff.locator("#case-reply-body").fill("Please switch it off and on again. Alice")
        staff.get_by_role("button", name="Send").click()
        staff.wait_for_url(f"**/cases/{case.pk}/**")
        staff.select_option(".case-controls select[name=status]", "resolved")
        staff.locator(".case-controls").get_by_role("button", name="Save").click()
        staff.wait_for_load_state()
        case.refresh_from_db()
        assert case.status == "resolved"
        desk.close()

        # 4. The customer sees the answer (and not the staff app).
        customer.reload()
        expect(customer.locator(".portal-thread")).to_contain_text("switch it off and on again")
        expect(customer.locator("#case-status")).to_have_text("Resolved")
        shots_at_both_sizes(customer, screenshot, "portal-journey-answer", leave_at_phone=True)
        assert phone.request.get("/cases/", max_redirects=0).status == 404  # portal cookie only

        # 5. The CSAT mail's "5" link: a confirmation page, then one answer.
        send_due()
        survey_mail = next(
            m for m in smtp.sink.messages if "How did we do" in str(m.message["Subject"])
        )
        five = re.search(r"^5 .*?(https?://\S+)", _body(survey_mail), re.M).group(1)
        customer.goto(re.sub(r"^https?://[^/]+", "", five))
        expect(customer.get_by_role("radio", name="5")).to_be_checked()
        customer.get_by_label("Comment (optional)").fill("Fixed in a minute, thanks")
        customer.get_by_role("button", name="Send my answer").click()
        expect(customer.get_by_role("heading", name="Thank you")).to_be_visible()
        _no_overflow(customer)
        invitation = SurveyInvitation.objects.get(case=case)
        assert (invitation.score, invitation.comment) == (5, "Fixed in a minute, thanks")
        phone.close()
    assert problems == []
