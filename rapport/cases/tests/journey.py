"""What the service desk journey tests share (test_journey, test_journey_kb_metrics,
test_email_to_case): the customer's mail, the agent with the customer's account and contact,
the support mailbox on the loopback servers and its queue, the CSP listener."""

import email.utils
from email.message import EmailMessage

from django.utils import timezone

from rapport.accounts.services import account_create, contact_create
from rapport.cases.models import Queue, QueueMember, RoutingRule
from rapport.identity.services import user_create
from rapport.mail.models import Mailbox, MailboxPurpose, Security

CUSTOMER = "Ann Customer <ann@customer.example>"
SUPPORT = "help@rapport.test"

# Chromium reports what the Content-Security-Policy blocked as a console error.
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => console.error(
  'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
"""


def customer_mail(
    subject: str = "Printer broken",
    body: str = "My printer does not print.",
    *,
    sender: str = CUSTOMER,
    to: str = SUPPORT,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A mail of the customer's to the support address (a fresh Message-ID, dated now)."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = email.utils.format_datetime(timezone.now())
    msg["Message-ID"] = email.utils.make_msgid(domain="customer.example")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg


def agent_with_customer(username: str = "agent"):
    """An agent (first name Alice) and the account "Customer Ltd" they own, with its contact
    Ann Customer <ann@customer.example>: (agent, account)."""
    agent = user_create(username=username, first_name="Alice", password="x", validate=False)
    account = account_create(actor=agent, fields={"name": "Customer Ltd"})
    contact_create(
        actor=agent,
        fields={"first_name": "Ann", "last_name": "Customer", "account": account},
        emails=[{"email": "ann@customer.example", "is_primary": True}],
    )
    return agent, account


def support_mailbox(smtp, *, address: str = SUPPORT, dovecot=None, user: str = "") -> Mailbox:
    """The support mailbox sending through the loopback SMTP server `smtp`; with `dovecot`,
    it also reads `user`'s INBOX there and logs in to both with the one secret."""
    box = Mailbox(
        name="Help",
        email_address=address,
        display_name="Rapport Help",
        purpose=MailboxPurpose.SUPPORT,
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_security=Security.NONE,
    )
    if dovecot is not None:
        from rapport.mail.tests.imap_server import PASSWORD

        box.smtp_user = user
        for name, value in dovecot.mailbox_settings(user).items():
            setattr(box, name, value)
        box.set_secret(PASSWORD)
    box.save()
    return box


def support_queue(box: Mailbox, agent) -> Queue:
    """The queue of the support mailbox, with `agent` as its member and a rule routing every
    case to it."""
    queue = Queue.objects.create(name="Support", mailbox=box)
    QueueMember.objects.create(queue=queue, user=agent)
    RoutingRule.objects.create(name="All", queue=queue)
    return queue
