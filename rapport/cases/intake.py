"""Email-to-case: the mail app's after-ingest handler for mailboxes whose purpose is
"support" (registered in CasesConfig.ready).

- A new conversation opens a case for the customer the mail app matched (exact addresses).
- A message the mail app threads onto a case's thread (its rules: our signed Message-ID, a
  stored Message-ID, the signed body reference, the subject token from a participant) is a
  customer message on that case: a pending case opens again; a resolved case reopens within
  RAPPORT_CASE_REOPEN_DAYS of its resolution; later, or when closed, a new case is opened
  that points at the old one (related_to).
- Auto-replies, bounces, mail from our own mailboxes, mailer daemons, no-reply senders and
  suppressed addresses never open a case and are never answered
  (`rapport.mail.inbound.may_auto_answer`).
"""

import logging

from django.utils import timezone

from rapport.cases.models import Case, CaseChannel, CaseStatus
from rapport.cases.selectors import case_for_thread
from rapport.cases.services import case_create, case_customer_message, reopen_window

log = logging.getLogger(__name__)


def _customer(message) -> dict:
    """The contact (and its account) the mail app filed the message on, if exactly known."""
    from rapport.accounts.models import Account, Contact

    links = list(message.links.values("contact_id", "account_id"))
    for link in links:
        if link["contact_id"]:
            contact = Contact.objects.filter(pk=link["contact_id"]).first()
            if contact is not None:
                return {"contact": contact, "account": contact.account}
    for link in links:
        if link["account_id"]:
            return {"account": Account.objects.filter(pk=link["account_id"]).first()}
    return {}


def case_from_mail(message, mailbox) -> Case | None:
    """Open a case for a new support mail, or add it to the case its thread belongs to."""
    from rapport.mail.inbound import may_auto_answer
    from rapport.mail.models import Direction, MailboxPurpose, MatchReason

    if mailbox is None or mailbox.purpose != MailboxPurpose.SUPPORT:
        return None
    if message.direction != Direction.INBOUND or not may_auto_answer(message):
        return None
    at = message.received_at or timezone.now()
    case = None
    if message.match_reason != MatchReason.NEW_THREAD:
        case = case_for_thread(message.thread_id)
    if case is not None:
        late = case.status == CaseStatus.CLOSED or (
            case.status == CaseStatus.RESOLVED
            and case.resolved_at is not None
            and case.resolved_at < at - reopen_window()
        )
        if not late:
            case_customer_message(case=case, message=message, at=at)
            return case
    fields = {
        "subject": (message.subject or "(no subject)")[:250],
        "description": (message.text_body or "")[:20000],
        "channel": CaseChannel.EMAIL,
        "mailbox": mailbox,
        **_customer(message),
    }
    if case is not None:
        fields.update(related_to=case, queue=case.queue)
        for key in ("account", "contact"):
            if fields.get(key) is None and getattr(case, f"{key}_id"):
                fields[key] = getattr(case, key)
    return case_create(actor=None, fields=fields, message=message, at=at)
