"""The send path refuses every marketing message without a valid consent for its purpose —
in one place (rapport.mail.gate) — and a consented one arrives with the RFC 8058 headers.
Real SMTP: the aiosmtpd loopback sink of the mail tests."""

from types import SimpleNamespace

import pytest
from django.utils import timezone

from rapport.automation.provided import send_email as automation_send_email
from rapport.consent import services, tokens
from rapport.consent.models import Channel, ConsentAction, ConsentSource
from rapport.consent.tests.conftest import confirm_token_from_outbox, make_contact
from rapport.mail.gate import may_send
from rapport.mail.models import (
    AddressStatus,
    BounceKind,
    Delivery,
    DeliveryState,
    EmailTemplate,
    Purpose,
)
from rapport.mail.sender import send_due
from rapport.mail.services import queue_email

pytestmark = pytest.mark.django_db


def _confirmed(person, purpose):
    services.consent_record(
        person=person,
        channel=Channel.EMAIL,
        purpose=purpose,
        action=ConsentAction.OPT_IN,
        source=ConsentSource.FORM,
    )
    services.consent_confirm(token=confirm_token_from_outbox(person.email))


def _marketing(mailbox, to, purpose):
    return queue_email(
        to=[to],
        subject=f"News for {to}",
        text="Hello",
        mailbox=mailbox,
        purpose=Purpose.MARKETING,
        consent_purpose=purpose,
    )


def test_every_way_without_consent_sends_nothing_and_consent_arrives_with_rfc8058(
    personas, mailbox, smtp_server, newsletter, offers
):
    owner = personas.owner
    opted_out = make_contact(owner, "out@example.com")
    _confirmed(opted_out, newsletter)
    services.consent_record(
        person=opted_out, channel="email", purpose=newsletter, action="opt_out", source="portal"
    )
    make_contact(owner, "never@example.com")
    unconfirmed = make_contact(owner, "pending@example.com")
    services.consent_record(
        person=unconfirmed, channel="email", purpose=newsletter, action="opt_in", source="form"
    )
    suppressed = make_contact(owner, "suppressed@example.com")
    _confirmed(suppressed, newsletter)
    services.suppression_add(address="suppressed@example.com", reason="manual", actor=owner)
    bounced = make_contact(owner, "bounced@example.com")
    _confirmed(bounced, newsletter)
    AddressStatus.objects.create(
        address="bounced@example.com",
        bounce_kind=BounceKind.HARD,
        suppressed=True,
        last_bounce_reason="550 5.1.1 no such user",
    )
    other_purpose = make_contact(owner, "offers-only@example.com")
    services.consent_record(
        person=other_purpose, channel="email", purpose=offers, action="opt_in", source="api"
    )
    by_sms = make_contact(owner, "sms-only@example.com")
    services.consent_record(
        person=by_sms, channel="sms", purpose=offers, action="opt_in", source="api"
    )
    welcome = make_contact(owner, "welcome@example.com")
    _confirmed(welcome, newsletter)
    Delivery.objects.update(state=DeliveryState.CANCELLED)  # the confirmation mails: not here

    refused = {
        "out@example.com": "opted out of Newsletter",
        "never@example.com": "never opted in to Newsletter",
        "pending@example.com": "double opt-in for Newsletter not confirmed",
        "suppressed@example.com": "suppressed (manual)",
        "bounced@example.com": "hard bounce: 550 5.1.1 no such user",
        "offers-only@example.com": "never opted in to Newsletter",
        "stranger@example.com": "no contact or lead has this address",
    }
    messages = {address: _marketing(mailbox, address, newsletter) for address in refused}
    no_purpose = queue_email(
        to=["welcome@example.com"],
        subject="No purpose",
        text="x",
        mailbox=mailbox,
        purpose=Purpose.MARKETING,
    )
    sms_consent_is_not_email = _marketing(mailbox, "sms-only@example.com", offers)
    valid = _marketing(mailbox, "welcome@example.com", newsletter)
    transactional = queue_email(
        to=["out@example.com"], subject="Your invoice", text="x", mailbox=mailbox
    )

    send_due()

    for address, message in messages.items():
        delivery = Delivery.objects.get(message=message)
        assert delivery.state == DeliveryState.FAILED, address
        assert refused[address] in delivery.last_error, (address, delivery.last_error)
        assert refused[address] in delivery.skipped[address]
    assert "without a consent purpose" in Delivery.objects.get(message=no_purpose).last_error
    assert (
        "never opted in to Offers"
        in Delivery.objects.get(message=sms_consent_is_not_email).last_error
    )
    assert Delivery.objects.get(message=valid).state == DeliveryState.SENT
    # Transactional mail needs no marketing consent (the opted-out person gets the invoice).
    assert Delivery.objects.get(message=transactional).state == DeliveryState.SENT

    received = {m.rcpt_tos[0]: m for m in smtp_server.sink.messages}
    assert set(received) == {"welcome@example.com", "out@example.com"}
    headers = received["welcome@example.com"].message
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(headers["List-Unsubscribe"]).strip()
    assert link.startswith("<http") and "/u/" in link
    token = link.split("/u/", 1)[1].split(">", 1)[0]
    assert tokens.read_unsubscribe_token(token) == {"a": "welcome@example.com", "u": newsletter.pk}
    assert received["out@example.com"].message["List-Unsubscribe"] is None  # not marketing


def test_the_gate_decides_at_send_time_not_at_queue_time(personas, mailbox, smtp_server, offers):
    person = make_contact(personas.owner, "late@example.com")
    services.consent_record(
        person=person, channel="email", purpose=offers, action="opt_in", source="api"
    )
    message = _marketing(mailbox, "late@example.com", offers)
    assert may_send("late@example.com", Purpose.MARKETING, offers.pk) == (True, "")
    services.consent_record(
        person=person, channel="email", purpose=offers, action="opt_out", source="email_link"
    )
    send_due()
    assert Delivery.objects.get(message=message).state == DeliveryState.FAILED
    assert smtp_server.sink.messages == []


def test_automation_send_email_of_a_marketing_template_passes_the_same_gate(
    personas, mailbox, smtp_server, offers
):
    template = EmailTemplate.objects.create(
        name="promo",
        purpose=Purpose.MARKETING,
        subject="Promo {{ contact.first_name }}",
        body_text="Hi",
        consent_purpose=offers,
    )
    never = make_contact(personas.owner, "never@example.com")
    ctx = SimpleNamespace(subject=never, event={}, actor=personas.owner, now=timezone.now())
    outcome = automation_send_email(ctx, {"template": "promo"})
    assert "never opted in to Offers" in outcome["skipped"]
    assert not Delivery.objects.exists()

    fan = make_contact(personas.owner, "fan@example.com")
    services.consent_record(
        person=fan, channel="email", purpose=offers, action="opt_in", source="api"
    )
    ctx = SimpleNamespace(subject=fan, event={}, actor=personas.owner, now=timezone.now())
    outcome = automation_send_email(ctx, {"template": template.name})
    delivery = Delivery.objects.get(message_id=outcome["message_id"])
    assert delivery.consent_purpose == offers and delivery.purpose == Purpose.MARKETING
    # Withdrawn before the worker runs: the sender's gate refuses it too.
    services.consent_record(
        person=fan, channel="email", purpose=offers, action="opt_out", source="portal"
    )
    send_due()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED and "opted out of Offers" in delivery.last_error
    assert smtp_server.sink.messages == []
