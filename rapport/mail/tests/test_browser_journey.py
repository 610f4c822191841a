"""The whole mail journey in Chromium over real servers (dovecot for IMAP, aiosmtpd for SMTP):
an admin connects a shared mailbox in the UI and tests the connection; a customer's mail is
delivered to the IMAP server; "Fetch new mail now" syncs it onto the contact; the admin
answers it from the contact page with a template; the worker sends it; the SMTP sink receives
it threaded (In-Reply-To/References); the thread page shows both messages.

Screenshots of each page at 1440×900 and 390×844 land in screenshots/mail-journey-*.png."""

import email.utils
from email.message import EmailMessage

import pytest
from django.urls import get_resolver
from playwright.sync_api import expect

from rapport.accounts.services import account_create, contact_create
from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.identity.models import Role
from rapport.identity.services import user_create
from rapport.mail.models import Delivery, DeliveryState, EmailTemplate, Mailbox, MailMessage
from rapport.mail.tests import imap_server
from rapport.mail.tests.imap_server import PASSWORD
from rapport.mail.tests.smtp_server import SmtpServer
from rapport.timeline.models import EventKind, TimelineEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
dovecot_server = imap_server.dovecot_server

LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => console.error(
  'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI + ' at ' + e.sourceFile
  + ':' + e.lineNumber + ' ' + (e.target && e.target.outerHTML || '').slice(0, 200)));
"""


def _customer_mail(message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Nora Berg <Nora@Fjord.example>"
    msg["To"] = "sales@example.com"
    msg["Subject"] = "Price for 40 pallets?"
    msg["Date"] = email.utils.format_datetime(
        email.utils.parsedate_to_datetime("Fri, 04 Dec 2026 10:00:00 +0000")
    )
    msg["Message-ID"] = message_id
    msg.set_content("Hello, what would 40 pallets to Bergen cost?\nNora")
    return msg.as_bytes()


@pytest.fixture
def smtp_with_login():
    # The mailbox's one secret signs in to both servers, as with a real provider.
    with SmtpServer(user="sales@example.com", password=PASSWORD) as server:
        yield server


def test_connect_receive_reply_with_a_template_and_see_the_thread(
    page, dovecot_server, smtp_with_login, settings, screenshot
):
    get_resolver().reverse_dict  # noqa: B018 - import every view before the first page
    settings.RAPPORT_MAIL_CA_FILE = str(dovecot_server.cert_path)
    imap_user = dovecot_server.new_user("journey")
    admin = user_create(
        username="ada",
        first_name="Ada",
        last_name="Admin",
        email="ada@rapport.test",
        role=Role.ADMIN,
        validate=False,
    )
    account = account_create(actor=admin, fields={"name": "Fjord Freight", "industry": "Retail"})
    nora = contact_create(
        actor=admin,
        fields={"first_name": "Nora", "last_name": "Berg", "account_id": account.pk},
        emails=[{"email": "nora@fjord.example"}],
    )
    EmailTemplate.objects.create(
        name="Quote follow-up",
        subject="Your quote",
        body_text="Hi {{ contact.first_name }},\n"
        "{% if account.industry == 'Retail' %}**40 pallets** to Bergen: EUR 3,200.{% endif %}\n"
        "{{ sender.name }}",
    )
    page.context.set_default_timeout(60_000)  # a loaded machine renders slowly
    page.set_default_timeout(60_000)
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"{page.url}: {m.text}") if m.type == "error" else None,
    )
    page.context.add_init_script(LISTENER)
    sign_in(page, admin)

    # 1. Connect the shared mailbox in the UI and test it: every stage passes.
    page.goto("/mail/mailboxes/")
    page.get_by_role("link", name="Add a shared mailbox").click()
    page.get_by_label("Name").first.fill("Sales")
    page.get_by_label("Email address").fill("sales@example.com")
    page.get_by_label("SMTP server").fill(smtp_with_login.host)
    page.get_by_label("SMTP port").fill(str(smtp_with_login.port))
    page.get_by_label("SMTP security").select_option("none")
    page.get_by_label("SMTP user (empty: the address)").fill("sales@example.com")
    page.get_by_label("IMAP server").fill(dovecot_server.host)
    page.get_by_label("IMAP port").fill(str(dovecot_server.port))
    page.get_by_label("IMAP security").select_option("none")
    page.get_by_label("IMAP user").fill(imap_user)
    page.get_by_label("IMAP folder").fill("INBOX")
    page.get_by_label("Sync", exact=False).first.check()
    page.get_by_label("Password, app password or OAuth2 token").fill(PASSWORD)
    page.get_by_role("button", name="Add mailbox").click()
    expect(page.get_by_text("A password is stored (encrypted).")).to_be_visible()
    box = Mailbox.objects.get()
    assert box.owner_id is None and box.sync_enabled and box.get_secret() == PASSWORD
    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#connection-result")
    expect(result).to_contain_text("IMAP")
    expect(result.locator(".status-danger")).to_have_count(0)
    expect(result).to_contain_text("SMTP LOGIN")
    shots_at_both_sizes(page, screenshot, "mail-journey-mailbox")

    # 2. The customer writes; the mail reaches the IMAP server; "Fetch new mail now" syncs.
    customer_id = email.utils.make_msgid(domain="fjord.example")
    dovecot_server.append(imap_user, _customer_mail(customer_id))
    page.get_by_role("button", name="Fetch new mail now").click()
    expect(page.get_by_text("Fetching new mail of Sales.")).to_be_visible()
    received = MailMessage.objects.get(direction="in")
    assert received.message_id == customer_id

    # 3. It is on Nora's page (her address in other letter case), on the timeline and the card.
    page.goto(f"/contacts/{nora.pk}/")
    expect(page.locator("#timeline")).to_contain_text("Email from Nora Berg: Price for 40 pallets?")
    shots_at_both_sizes(page, screenshot, "mail-journey-contact-received")
    page.locator("#timeline").get_by_role("link", name="Open the email thread").first.click()
    page.wait_for_url(f"**/mail/threads/{received.thread_id}/**")
    expect(page.locator(".mail-message")).to_have_count(1)
    shots_at_both_sizes(page, screenshot, "mail-journey-thread-received")

    # 4. Reply from the contact page with the template (formatted), the thread keeps its subject.
    page.locator(f"#message-{received.pk}").get_by_role("link", name="Reply").click()
    form = page.locator("#composer-email")
    expect(form).to_be_visible()
    expect(form.locator(".composer-reply-note")).to_contain_text("Price for 40 pallets?")
    expect(form.get_by_label("Nora Berg <nora@fjord.example>")).to_be_checked()
    form.get_by_label("Template").select_option(label="Quote follow-up")
    expect(page.locator("#composer-email [name=body]")).to_have_value(
        "Hi {{ contact.first_name }},\n"
        "{% if account.industry == 'Retail' %}**40 pallets** to Bergen: EUR 3,200.{% endif %}\n"
        "{{ sender.name }}"
    )
    expect(page.locator("#composer-email [name=subject]")).to_have_value(
        "Re: Price for 40 pallets?"
    )
    page.locator("#composer-email").get_by_label("Format").select_option("markdown")
    shots_at_both_sizes(page, screenshot, "mail-journey-composer-reply")
    page.locator("#composer-email").get_by_role("button", name="Send email").click()

    # 5. The worker sent it; the timeline says so; the sink got it threaded.
    expect(page.locator(".outgoing-item").first).to_contain_text("Sent")
    expect(page.locator("#timeline")).to_contain_text("Email sent: Re: Price for 40 pallets?")
    (got,) = smtp_with_login.sink.messages
    sent = got.message
    assert sent["In-Reply-To"] == customer_id
    assert customer_id in sent["References"]
    assert sent["Subject"] == "Re: Price for 40 pallets?"
    assert got.rcpt_tos == ["nora@fjord.example"]
    assert "Hi Nora," in sent.get_body(("plain",)).get_content()
    assert "<strong>40 pallets</strong>" in sent.get_body(("html",)).get_content()
    reply = MailMessage.objects.get(direction="out")
    assert reply.thread_id == received.thread_id
    assert Delivery.objects.get().state == DeliveryState.SENT
    assert TimelineEvent.objects.filter(kind=EventKind.EMAIL_SENT, contact=nora).exists()
    shots_at_both_sizes(page, screenshot, "mail-journey-contact-replied")

    # 6. The thread page shows both, oldest first.
    page.goto(f"/mail/threads/{received.thread_id}/")
    expect(page.locator(".mail-message")).to_have_count(2)
    expect(page.locator(".mail-message").nth(1)).to_contain_text("Sent")
    expect(page.locator(".mail-message").nth(1)).to_contain_text("40 pallets")
    shots_at_both_sizes(page, screenshot, "mail-journey-thread-both")
    assert page.evaluate("document.documentElement.scrollHeight") < 4000
    assert not problems and not page.errors, ("\n".join(problems), page.errors)
