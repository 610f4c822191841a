"""Two customers (each an account with a contact, an order with lines, an asset, a case with
a public reply and an internal note) and a portal user for each."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from rapport.accounts.services import account_create, contact_create
from rapport.assets.models import Asset
from rapport.cases.models import CaseCategory
from rapport.cases.services import case_create, case_note, case_reply
from rapport.mail.models import Mailbox, MailboxPurpose
from rapport.orders.models import Order, OrderLine
from rapport.portal import auth
from rapport.portal.models import PortalUser
from rapport.sales.models import Product


@dataclass
class Customer:
    account: object
    contact: object
    colleague: object
    order: object
    line: object
    asset: object
    case: object
    colleague_case: object
    portal_user: PortalUser


def support_mailbox(**smtp) -> Mailbox:
    mailbox = Mailbox.objects.filter(purpose=MailboxPurpose.SUPPORT, owner=None).first()
    if mailbox is None:
        mailbox = Mailbox.objects.create(
            name="Support",
            email_address="support@rapport.test",
            display_name="Rapport Support",
            purpose=MailboxPurpose.SUPPORT,
            **smtp,
        )
    return mailbox


def make_customer(personas, name: str, product: Product, category=None) -> Customer:
    owner = personas.owner
    mailbox = support_mailbox()
    account = account_create(actor=owner, fields={"name": f"{name} Ltd"})
    contact = contact_create(
        actor=owner,
        fields={"first_name": name, "last_name": "Customer", "account": account},
        emails=[{"email": f"{name.lower()}@customer.example", "is_primary": True}],
    )
    colleague = contact_create(
        actor=owner,
        fields={"first_name": f"{name}-colleague", "last_name": "Customer", "account": account},
        emails=[{"email": f"{name.lower()}.colleague@customer.example", "is_primary": True}],
    )
    order = Order.objects.create(
        account=account, contact=contact, ordered_at=timezone.now(), total=Decimal("300")
    )
    line = OrderLine.objects.create(
        order=order, product=product, quantity=Decimal("3"), unit_price=Decimal("100")
    )
    asset = Asset.objects.create(
        product=product,
        account=account,
        contact=contact,
        order_line=line,
        serial_number=f"SN-{name}",
        warranty_end=timezone.localdate() + datetime.timedelta(days=200),
    )
    case = case_create(
        actor=owner,
        fields={
            "subject": f"{name}'s printer jams",
            "contact": contact,
            "category": category,
            "mailbox": mailbox,
        },
        body="It jams on every page",
    )
    case_reply(case=case, actor=owner, body=f"PUBLIC-ANSWER-{name}")
    case_note(case=case, actor=owner, body=f"INTERNAL-NOTE-{name}")
    colleague_case = case_create(
        actor=owner, fields={"subject": f"{name} colleague's case", "contact": colleague}
    )
    portal_user = PortalUser.objects.create(contact=contact, email=contact.email.lower())
    return Customer(
        account, contact, colleague, order, line, asset, case, colleague_case, portal_user
    )


def make_customers(personas):
    product = Product.objects.create(
        sku="PRN-1", name="Printer", unit_price=Decimal("100"), is_tracked=True, warranty_months=24
    )
    category = CaseCategory.objects.create(name="Complaint", is_complaint=True)
    return (
        make_customer(personas, "Alice", product, category),
        make_customer(personas, "Bob", product, category),
    )


def portal_client(portal_user: PortalUser) -> Client:
    """A test client signed in to the portal (a real portal session, no staff session)."""
    client = Client()
    client.cookies[auth.PORTAL_COOKIE] = auth.session_start(portal_user)
    return client
