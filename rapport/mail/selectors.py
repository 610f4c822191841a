"""Reading mail: which mailboxes a user may use, the people of a record one may write to, and
the plain-data context a template sees.

`template_context` is the only door between records and user-editable templates: it returns
dicts of strings, numbers and dates taken from records the user can see (through the records'
own visibility selectors), never a model instance, so a template cannot reach anything else.
"""

from dataclasses import dataclass

from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from rapport.accounts.models import Account, Contact
from rapport.accounts.selectors import accounts_visible_to, contacts_visible_to
from rapport.leads.models import Lead
from rapport.leads.selectors import leads_visible_to
from rapport.mail.models import (
    Delivery,
    DeliveryState,
    EmailTemplate,
    Mailbox,
    MailMessage,
    MessageLink,
)
from rapport.records.exceptions import RecordNotFound
from rapport.records.visibility import owned_record_models, visible_ref
from rapport.sales.models import Opportunity
from rapport.sales.selectors import opportunities_visible_to

# ----- who sees a message ----------------------------------------------------------------

MESSAGE_LINK_FIELDS = ("account", "contact", "lead", "opportunity")


def messages_visible_to(user) -> QuerySet[MailMessage]:
    """The one rule of which mail messages `user` may read (thread pages, the API, attachment
    and raw downloads all use it): a message filed (MessageLink) on at least one not-deleted
    record the user may see, one that came through the user's own personal mailbox, or one
    the user sent; admins see every message, unfiled ones included. One EXISTS over the links
    with a primary-key probe per linked record: constant queries, whatever the mailbox size."""
    if user is None or not user.is_authenticated or not user.is_active:
        return MailMessage.objects.none()
    if user.is_admin:
        return MailMessage.objects.all()
    models = owned_record_models()
    reachable = Q(pk__in=[])
    for field in MESSAGE_LINK_FIELDS:
        reachable |= visible_ref(models[field], user, f"{field}_id") & Q(
            **{f"{field}__deleted_at__isnull": True}
        )
    links = MessageLink.objects.filter(message_id=OuterRef("pk")).filter(reachable)
    return MailMessage.objects.filter(
        Q(Exists(links)) | Q(mailbox__owner_id=user.pk) | Q(created_by_id=user.pk)
    )


def is_mail_admin(user) -> bool:
    return bool(user.is_authenticated and user.is_admin)


def mailboxes_managed_by(user) -> QuerySet[Mailbox]:
    """Admins manage the shared mailboxes and their own; everyone else only their own."""
    qs = Mailbox.objects.select_related("owner")
    if is_mail_admin(user):
        return qs.filter(Q(owner__isnull=True) | Q(owner=user))
    return qs.filter(owner=user)


def mailbox_get_managed(*, pk: int, user) -> Mailbox:
    mailbox = mailboxes_managed_by(user).filter(pk=pk).first()
    if mailbox is None:
        raise RecordNotFound("mailbox")
    return mailbox


def mailboxes_to_send_from(user) -> QuerySet[Mailbox]:
    """Active shared mailboxes and the user's own (a shared one is the team's address)."""
    return Mailbox.objects.filter(active=True).filter(Q(owner__isnull=True) | Q(owner=user))


def templates_active() -> QuerySet[EmailTemplate]:
    return EmailTemplate.objects.filter(active=True)


def template_get(*, pk: int) -> EmailTemplate:
    template = EmailTemplate.objects.filter(pk=pk).first()
    if template is None:
        raise RecordNotFound("template")
    return template


# ----- records and their people -------------------------------------------------------

RECORD_TYPES: dict[str, tuple[type[Model], object]] = {
    "contact": (Contact, contacts_visible_to),
    "account": (Account, accounts_visible_to),
    "lead": (Lead, leads_visible_to),
    "opportunity": (Opportunity, opportunities_visible_to),
}


def record_get_visible(*, record_type: str, pk: int, user) -> Model:
    if record_type not in RECORD_TYPES:
        raise RecordNotFound("record")
    model, visible = RECORD_TYPES[record_type]
    record = visible(user).filter(pk=pk).first()
    if record is None:
        raise RecordNotFound(record_type)
    return record


def record_type_of(record: Model) -> str:
    return type(record).__name__.lower()


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    contact_id: int | None = None

    @property
    def label(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


def _contact_people(contacts: QuerySet[Contact]) -> list[Person]:
    people = []
    for contact in contacts.prefetch_related("emails").order_by("last_name", "first_name", "id"):
        name = f"{contact.first_name} {contact.last_name}".strip()
        addresses = [e.email for e in contact.emails.all()] or (
            [contact.email] if contact.email else []
        )
        for address in dict.fromkeys(addresses):
            people.append(Person(name=name, email=address, contact_id=contact.pk))
    return people


def record_people(record: Model, *, user) -> list[Person]:
    """The addresses one may pick as recipients on `record` (only contacts the user sees)."""
    contacts = contacts_visible_to(user)
    if isinstance(record, Contact):
        return _contact_people(contacts.filter(pk=record.pk))
    if isinstance(record, Account):
        return _contact_people(contacts.filter(account_id=record.pk)[:200])
    if isinstance(record, Lead):
        name = f"{record.first_name} {record.last_name}".strip()
        return [Person(name=name, email=record.email)] if record.email else []
    if isinstance(record, Opportunity):
        ids = [record.primary_contact_id] if record.primary_contact_id else []
        people = _contact_people(contacts.filter(pk__in=ids))
        if record.account_id:
            people += _contact_people(
                contacts.filter(account_id=record.account_id).exclude(pk__in=ids)[:200]
            )
        return people
    return []


def record_links(record: Model) -> list[dict]:
    """The MessageLink rows a message sent from `record` gets: the record and its account."""
    kind = record_type_of(record)
    link = {f"{kind}_id": record.pk}
    if isinstance(record, Contact | Opportunity) and record.account_id:
        link["account_id"] = record.account_id
    return [link]


# ----- the template context ------------------------------------------------------------


def _plain(value):
    if value is None:
        return ""
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _fields(record: Model | None, names: tuple[str, ...]) -> dict:
    if record is None:  # every field present and empty: a preview without a record
        return {"id": "", **dict.fromkeys(names, "")}
    out = {name: _plain(getattr(record, name, "")) for name in names}
    out["id"] = record.pk
    return out


CONTACT_FIELDS = ("first_name", "last_name", "title", "email", "phone", "city", "country")
ACCOUNT_FIELDS = ("name", "website", "domain", "industry", "currency")
LEAD_FIELDS = (
    "first_name",
    "last_name",
    "title",
    "email",
    "phone",
    "company",
    "website",
    "industry",
    "status",
)
OPPORTUNITY_FIELDS = ("name", "amount", "currency", "probability", "expected_close_date")


def _visible_or_none(qs: QuerySet, pk: int | None):
    return qs.filter(pk=pk).first() if pk else None


def template_context(record: Model | None, user, recipient: str = "", mailbox=None) -> dict:
    """Plain data for a template: the record and what it leads to (contact, account, lead,
    opportunity), each only when `user` can see it, plus the sender and the recipient."""
    contact = account = lead = opportunity = None
    if isinstance(record, Contact):
        contact = record
        account = _visible_or_none(accounts_visible_to(user), record.account_id)
    elif isinstance(record, Account):
        account = record
    elif isinstance(record, Lead):
        lead = record
    elif isinstance(record, Opportunity):
        opportunity = record
        account = _visible_or_none(accounts_visible_to(user), record.account_id)
        contact = _visible_or_none(contacts_visible_to(user), record.primary_contact_id)
    if contact is None and recipient and record is not None:
        contact = (
            contacts_visible_to(user)
            .filter(Q(email__iexact=recipient) | Q(emails__email__iexact=recipient))
            .first()
        )
    context = {
        "contact": _fields(contact, CONTACT_FIELDS),
        "account": _fields(account, ACCOUNT_FIELDS),
        "lead": _fields(lead, LEAD_FIELDS),
        "opportunity": _fields(opportunity, OPPORTUNITY_FIELDS),
        "recipient": {"email": recipient},
    }
    context["opportunity"]["stage"] = (
        opportunity.stage.name if opportunity is not None and opportunity.stage_id else ""
    )
    full_name = user.get_full_name() if user.is_authenticated else ""
    context["sender"] = {
        "name": full_name or (user.get_username() if user.is_authenticated else ""),
        "first_name": getattr(user, "first_name", ""),
        "email": (mailbox.email_address if mailbox else getattr(user, "email", "")) or "",
        "signature": (getattr(mailbox, "signature", "") if mailbox else "") or "",
    }
    return context


def merge_fields() -> dict[str, list[str]]:
    """The merge fields a template may use (shown beside the editor)."""
    return {
        "contact": ["id", *CONTACT_FIELDS],
        "account": ["id", *ACCOUNT_FIELDS],
        "lead": ["id", *LEAD_FIELDS],
        "opportunity": ["id", *OPPORTUNITY_FIELDS, "stage"],
        "recipient": ["email"],
        "sender": ["name", "first_name", "email", "signature"],
    }


def deliveries_of_record(record: Model, *, limit: int = 10) -> QuerySet[Delivery]:
    """The latest outgoing messages filed on `record`, with their delivery state."""
    field = f"message__links__{record_type_of(record)}"
    return (
        Delivery.objects.filter(**{field: record.pk})
        .select_related("message")
        .order_by("-message__created_at", "-id")
        .distinct()[:limit]
    )


def pending_deliveries_of_record(record: Model, *, limit: int = 10) -> list[Delivery]:
    """Outgoing messages filed on `record` that are not sent yet (queued, waiting for a retry
    or being sent), soonest first: the timeline shows them until their EMAIL_SENT event (sent
    or failed) is written. [] for a record mail is never filed on."""
    kind = record_type_of(record)
    if kind not in RECORD_TYPES:
        return []
    return list(
        Delivery.objects.filter(
            **{f"message__links__{kind}": record.pk},
            state__in=(DeliveryState.QUEUED, DeliveryState.SENDING),
        )
        .select_related("message", "message__created_by")
        .order_by("next_attempt_at", "id")
        .distinct()[:limit]
    )
