"""Inbound mail finds its people by address case-insensitively, through the UPPER(email)
indexes (PostgreSQL and SQLite alike)."""

import email.utils
from email.message import EmailMessage

import pytest

from rapport.accounts.models import ContactEmail
from rapport.accounts.services import account_create, contact_create
from rapport.leads.services import lead_create
from rapport.mail.inbound import address_in, ingest_raw
from rapport.mail.models import Mailbox, MessageLink
from rapport.web.testing import query_plan

pytestmark = pytest.mark.django_db


def _raw(sender: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "sales@example.com", "Hello"
    msg["Date"] = "Fri, 04 Dec 2026 10:00:00 +0000"
    msg["Message-ID"] = email.utils.make_msgid(domain="acme.io")
    msg.set_content("Hi")
    return msg.as_bytes()


def test_mixed_case_sender_lands_on_the_contact_stored_in_lower_case(personas):
    account = account_create(actor=personas.owner, fields={"name": "Acme"})
    jane = contact_create(
        actor=personas.owner,
        fields={"first_name": "Jane", "last_name": "Doe", "account_id": account.pk},
        emails=[{"email": "jane@acme.io"}],
    )
    other = contact_create(
        actor=personas.owner,
        fields={"first_name": "Jo", "last_name": "Doe"},
        emails=[{"email": "jane.other@acme.io"}],
    )
    lead = lead_create(actor=personas.owner, fields={"last_name": "Lead", "email": "jane@acme.io"})
    box = Mailbox.objects.create(name="Sales", email_address="sales@example.com")
    message, _ = ingest_raw(box, _raw("Jane Doe <Jane@ACME.io>"))
    links = set(MessageLink.objects.filter(message=message).values_list("contact_id", "lead_id"))
    assert (jane.pk, None) in links and (None, lead.pk) in links
    assert other.pk not in {c for c, _ in links}
    assert MessageLink.objects.filter(message=message, account_id=account.pk).exists()


def test_the_address_lookup_uses_the_upper_email_index(personas):
    contact_create(
        actor=personas.owner,
        fields={"first_name": "Jane", "last_name": "Doe"},
        emails=[{"email": "jane@acme.io"}],
    )
    qs = address_in(ContactEmail.objects.all(), "email", ["Jane@ACME.io", "bob@example.com"])
    assert list(qs.values_list("email", flat=True)) == ["jane@acme.io"]
    assert "contactemail_email_upper" in query_plan(qs.values_list("contact_id"))


def test_non_ascii_addresses_are_upper_cased_by_the_database(personas):
    # Python's and SQLite's UPPER disagree beyond ASCII: such an address is compared with
    # UPPER() on both sides in SQL (SQLite folds only the ASCII letters of either side).
    contact_create(
        actor=personas.owner,
        fields={"first_name": "Jörg", "last_name": "Doe"},
        emails=[{"email": "joerg@bücher.example"}],
    )
    qs = address_in(ContactEmail.objects.all(), "email", ["JOERG@bücher.example"])
    assert list(qs.values_list("email", flat=True)) == ["joerg@bücher.example"]


def test_the_lead_lookup_uses_the_upper_email_index(personas):
    from rapport.leads.models import Lead

    lead_create(actor=personas.owner, fields={"last_name": "Lead", "email": "jane@acme.io"})
    qs = address_in(Lead.objects.all(), "email", ["Jane@ACME.io", "bob@example.com"])
    assert list(qs.values_list("email", flat=True)) == ["jane@acme.io"]
    assert "lead_email_upper" in query_plan(qs.values_list("id"))


def test_the_chunk_lookup_files_every_address_set_as_a_lookup_of_it_alone(personas):
    """The sync looks the records of a whole chunk's address sets up at once
    (matching_records_many); each set gets exactly the links, in the order, that a lookup of
    that set alone gives (matching_records), and those are the records it names: contacts by
    any address, their accounts, open opportunities, leads; case-insensitive, a non-ASCII
    address upper-cased by the database."""
    from rapport.mail.inbound import matching_records, matching_records_many
    from rapport.sales.services.opportunities import opportunity_create

    account = account_create(actor=personas.owner, fields={"name": "Acme"})
    jane = contact_create(
        actor=personas.owner,
        fields={"first_name": "Jane", "last_name": "Doe", "account_id": account.pk},
        emails=[{"email": "jane@acme.io", "is_primary": True}, {"email": "J.Doe@Home.example"}],
    )
    jo = contact_create(
        actor=personas.owner,
        fields={"first_name": "Jo", "last_name": "Doe"},
        emails=[{"email": "jo@acme.io"}],
    )
    joerg = contact_create(
        actor=personas.owner,
        fields={"first_name": "Jörg", "last_name": "Doe"},
        emails=[{"email": "joerg@bücher.example"}],
    )
    deal = opportunity_create(
        actor=personas.owner,
        fields={"name": "Deal", "account": account, "primary_contact": jane},
    )
    lead = lead_create(actor=personas.owner, fields={"last_name": "Lead", "email": "jo@acme.io"})
    lead_create(actor=personas.owner, fields={"last_name": "Other", "email": "x@nowhere.example"})
    sets = [
        {"jane@acme.io"},
        {"j.doe@home.example", "jo@acme.io"},
        {"JO@ACME.IO"},
        {"stranger@unknown.example"},
        {"joerg@bücher.example", "jane@acme.io"},
        {"JOERG@bücher.example"},
        set(),
    ]
    many = matching_records_many(sets)
    for addresses in sets:
        assert many[frozenset(addresses)] == matching_records(addresses), addresses
    jane_links = [
        {"contact_id": jane.pk, "account_id": account.pk},
        {"opportunity_id": deal.pk, "account_id": account.pk},
    ]
    jo_links = [{"contact_id": jo.pk, "account_id": None}]
    joerg_links = [{"contact_id": joerg.pk, "account_id": None}]
    assert many[frozenset({"jane@acme.io"})] == jane_links
    assert many[frozenset({"j.doe@home.example", "jo@acme.io"})] == sorted(
        [jane_links[0], jo_links[0]], key=lambda link: link["contact_id"]
    ) + [jane_links[1], {"lead_id": lead.pk}]
    assert many[frozenset({"JO@ACME.IO"})] == [*jo_links, {"lead_id": lead.pk}]
    assert many[frozenset({"stranger@unknown.example"})] == []
    assert many[frozenset({"joerg@bücher.example", "jane@acme.io"})] == sorted(
        [jane_links[0], joerg_links[0]], key=lambda link: link["contact_id"]
    ) + [jane_links[1]]
    assert many[frozenset({"JOERG@bücher.example"})] == joerg_links
    assert many[frozenset()] == []
