"""A user's journey through received mail in Chromium: the contact's Emails card, the thread,
"why is this here", moving a message to a thread of its own. No CSP violation, no script
error on the way."""

import email.utils
from email.message import EmailMessage

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.conftest import sign_in
from rapport.identity.services import user_create
from rapport.mail.inbound import ingest_raw
from rapport.mail.models import Mailbox, MailMessage, MatchReason

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => console.error(
  'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
"""


def _raw(subject: str, **headers) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Ann <ann@customer.example>", "sales@x.test", subject
    msg["Date"] = "Fri, 04 Dec 2026 10:00:00 +0000"
    msg["Message-ID"] = email.utils.make_msgid(domain="customer.example")
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content("Plain text")
    msg.add_alternative("<p>Hello <b>team</b></p><script>alert(1)</script>", subtype="html")
    return msg.as_bytes()


def test_from_contact_to_thread_and_move(page):
    owner = user_create(username="mail-owner", password="x", validate=False)
    account = account_create(actor=owner, fields={"name": "Customer Ltd"})
    ann = contact_create(
        actor=owner,
        fields={"first_name": "Ann", "last_name": "Customer", "account": account},
        emails=[{"email": "ann@customer.example", "is_primary": True}],
    )
    box = Mailbox.objects.create(name="Sales", email_address="sales@x.test")
    first, _ = ingest_raw(box, _raw("Pricing question"))
    second, _ = ingest_raw(box, _raw("Re: Pricing question", In_Reply_To=first.message_id))
    assert second.thread_id == first.thread_id
    page.context.set_default_timeout(90_000)  # a loaded CI machine renders slowly
    page.set_default_timeout(90_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.context.add_init_script(LISTENER)
    sign_in(page, owner)

    page.goto(f"/contacts/{ann.pk}/")
    card = page.locator("#rel-emails").locator("xpath=ancestor::section")
    card.get_by_role("link", name="Re: Pricing question").click()
    page.wait_for_url(f"**/mail/threads/{first.thread_id}/**")
    assert page.locator(".mail-message").count() == 2
    assert page.locator(".mail-html b").first.inner_text() == "team"
    assert page.locator(".mail-html script").count() == 0
    page.locator(".mail-why summary").nth(1).click()
    assert "A stored Message-ID" in page.locator(".mail-why").nth(1).inner_text()

    page.locator(f"#message-{second.pk}").get_by_role("link", name="Move…").click()
    page.get_by_label("Move it into a thread of its own").check()
    page.get_by_role("button", name="Move").click()
    second.refresh_from_db()
    page.wait_for_url(f"**/mail/threads/{second.thread_id}/")
    assert second.thread_id != first.thread_id and second.match_reason == MatchReason.MOVED
    assert "Moved by a user" in page.content()
    assert MailMessage.objects.count() == 2
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 3000
    assert not problems and not page.errors, (problems, page.errors)
