"""The ledger: append-only, statuses derived from it, double opt-in, unsubscribe and the
preference centre through signed tokens (tampered and expired ones refused)."""

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.consent import selectors, services, tokens
from rapport.consent.models import (
    AppendOnly,
    Channel,
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    ConsentStatus,
    Suppression,
)
from rapport.consent.tests.conftest import confirm_token_from_outbox, make_contact
from rapport.mail.models import Delivery, MailMessage, Purpose
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


def _opt_in(person, purpose, channel=Channel.EMAIL, source=ConsentSource.API, **kw):
    return services.consent_record(
        person=person,
        channel=channel,
        purpose=purpose,
        action=ConsentAction.OPT_IN,
        source=source,
        **kw,
    )


def test_ledger_refuses_update_and_delete(personas, offers):
    contact = make_contact(personas.owner, "bo@example.com")
    record = _opt_in(contact, offers, ip="203.0.113.9", user_agent="UA/1")
    record.note = "changed"
    with pytest.raises(AppendOnly):
        record.save()
    with pytest.raises(AppendOnly):
        record.delete()
    with pytest.raises(AppendOnly):
        ConsentRecord.objects.filter(pk=record.pk).update(note="x")
    with pytest.raises(AppendOnly):
        ConsentRecord.objects.filter(pk=record.pk).delete()
    stored = ConsentRecord.objects.get(pk=record.pk)
    assert stored.note == "" and stored.ip_address == "203.0.113.9"
    assert stored.policy_version == "1" and stored.user_agent == "UA/1"


def test_status_is_derived_from_the_ledger_and_cached(personas, offers):
    contact = make_contact(personas.owner, "bo@example.com")
    assert selectors.current_status(contact, purpose=offers, channel=Channel.SMS) == ""
    _opt_in(contact, offers, channel=Channel.SMS)
    assert selectors.current_status(contact, purpose=offers, channel=Channel.SMS) == "opted_in"
    services.consent_record(
        person=contact,
        channel=Channel.SMS,
        purpose=offers,
        action=ConsentAction.OPT_OUT,
        source=ConsentSource.PORTAL,
    )
    assert selectors.current_status(contact, purpose=offers, channel=Channel.SMS) == "opted_out"
    assert [r.action for r in selectors.consent_ledger(contact)] == ["opt_out", "opt_in"]
    rows = selectors.consent_status_matrix(contact)
    cell = {c.channel: c.status for c in rows[0].cells}
    assert cell == {"email": "", "sms": "opted_out", "phone": "", "post": ""}
    assert (
        TimelineEvent.objects.filter(contact=contact, payload__consent__channel="sms").count() == 2
    )


def test_agent_consent_needs_a_note_and_bad_input_names_the_field(personas, offers):
    contact = make_contact(personas.owner, "bo@example.com")
    with pytest.raises(ValidationError) as exc:
        _opt_in(
            contact, offers, channel=Channel.PHONE, source=ConsentSource.AGENT, actor=personas.owner
        )
    assert "note" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        _opt_in(contact, offers, channel="fax")
    assert "channel" in exc.value.message_dict
    assert ConsentRecord.objects.count() == 0
    record = _opt_in(
        contact,
        offers,
        channel=Channel.PHONE,
        source=ConsentSource.AGENT,
        actor=personas.owner,
        note="Phone call",
    )
    assert record.actor == personas.owner


def test_double_opt_in_is_pending_until_the_signed_link_is_posted(personas, newsletter):
    contact = make_contact(personas.owner, "bo@example.com")
    record = _opt_in(contact, newsletter, source=ConsentSource.FORM)
    assert selectors.current_status(contact, purpose=newsletter, channel="email") == "pending"
    (delivery,) = [d for d in Delivery.objects.all() if d.message.to == ["bo@example.com"]]
    assert delivery.purpose == Purpose.TRANSACTIONAL
    token = confirm_token_from_outbox("bo@example.com")
    assert record.token_hash == tokens.token_hash(token) and token not in record.token_hash
    assert not ConsentRecord.objects.filter(token_hash=token).exists()  # never the token
    confirmation = services.consent_confirm(token=token, ip="198.51.100.7", user_agent="Browser")
    assert confirmation.action == ConsentAction.CONFIRM
    assert confirmation.token_hash == record.token_hash
    assert selectors.current_status(contact, purpose=newsletter, channel="email") == "opted_in"
    # Confirming twice changes nothing.
    services.consent_confirm(token=token)
    assert ConsentRecord.objects.filter(action="confirm").count() == 1


def test_tampered_expired_or_withdrawn_confirmation_is_refused(personas, newsletter):
    contact = make_contact(personas.owner, "bo@example.com")
    _opt_in(contact, newsletter)
    token = confirm_token_from_outbox("bo@example.com")
    with pytest.raises(tokens.BadToken):
        services.consent_confirm(token=token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    with pytest.raises(tokens.BadToken):  # an unsubscribe token is no confirmation
        services.consent_confirm(
            token=tokens.make_unsubscribe_token(address="bo@example.com", purpose_id=newsletter.pk)
        )
    later = timezone.now() + datetime.timedelta(days=8)
    with time_machine.travel(later), pytest.raises(tokens.BadToken, match="expired"):
        services.consent_confirm(token=token)
    services.consent_record(
        person=contact, channel="email", purpose=newsletter, action="opt_out", source="api"
    )
    with pytest.raises(tokens.BadToken):
        services.consent_confirm(token=token)
    assert selectors.current_status(contact, purpose=newsletter, channel="email") == "opted_out"


def test_one_click_unsubscribe_opts_out_everyone_with_the_address(personas, offers):
    contact = make_contact(personas.owner, "bo@example.com")
    twin = make_contact(personas.owner, "Bo@Example.com", first="Other")
    _opt_in(contact, offers)
    _opt_in(twin, offers)
    token = tokens.make_unsubscribe_token(address="bo@example.com", purpose_id=offers.pk)
    records = services.consent_unsubscribe(token=token, ip="192.0.2.1", user_agent="Gmail")
    assert {r.contact_id for r in records} == {contact.pk, twin.pk}
    assert all(r.source == ConsentSource.EMAIL_LINK for r in records)
    for person in (contact, twin):
        assert selectors.current_status(person, purpose=offers, channel="email") == "opted_out"
    # An address nobody has goes on the suppression list.
    services.consent_unsubscribe(
        token=tokens.make_unsubscribe_token(address="gone@example.com", purpose_id=offers.pk)
    )
    assert Suppression.objects.get(address="gone@example.com").reason == "unsubscribe"


def test_preference_centre_changes_only_what_changed(personas, offers, newsletter):
    contact = make_contact(personas.owner, "bo@example.com")
    _opt_in(contact, offers, channel=Channel.POST)
    ref = tokens.person_ref(contact_id=contact.pk, lead_id=None)
    token = tokens.make_preferences_token(person=ref, address="bo@example.com")
    records = services.preferences_save(
        token=token, chosen={(newsletter.pk, "email"), (offers.pk, "sms")}
    )
    assert sorted((r.purpose.slug, r.channel, r.action) for r in records) == [
        ("newsletter", "email", "opt_in"),
        ("offers", "post", "opt_out"),
        ("offers", "sms", "opt_in"),
    ]
    assert selectors.current_status(contact, purpose=newsletter, channel="email") == "pending"
    services.preferences_save(token=token, chosen=set(), unsubscribe_all=True)
    statuses = {(s.purpose.slug, s.channel): s.status for s in selectors.consent_states(contact)}
    assert set(statuses.values()) == {ConsentStatus.OPTED_OUT}
    assert Suppression.objects.filter(address="bo@example.com", removed_at=None).exists()
    with pytest.raises(tokens.BadToken):
        services.preferences_save(token=token + "x", chosen=set())


def test_a_failed_write_leaves_nothing_half_written(personas, newsletter):
    lead_less = make_contact(personas.owner, "")
    with pytest.raises(ValidationError):
        _opt_in(lead_less, newsletter)  # email double opt-in without an address
    assert ConsentRecord.objects.count() == 0 and MailMessage.objects.count() == 0
    contact = make_contact(personas.owner, "bo@example.com")
    with pytest.raises(RuntimeError), transaction.atomic():
        _opt_in(contact, newsletter)
        raise RuntimeError
    assert ConsentRecord.objects.count() == 0 and Delivery.objects.count() == 0


def test_purpose_text_change_needs_a_new_version(personas, offers):
    with pytest.raises(ValidationError) as exc:
        services.purpose_update(actor=personas.admin, purpose=offers, fields={"policy_text": "New"})
    assert "policy_version" in exc.value.message_dict
    services.purpose_update(
        actor=personas.admin, purpose=offers, fields={"policy_text": "New", "policy_version": "2"}
    )
    contact = make_contact(personas.owner, "bo@example.com")
    assert _opt_in(contact, offers).policy_version == "2"


def test_suppression_add_and_remove_keep_history(personas):
    entry = services.suppression_add(
        address="Spam@Example.com", reason="complaint", note="FBL", actor=personas.owner
    )
    assert entry.address == "spam@example.com"
    assert (
        services.suppression_add(
            address="spam@example.com", reason="manual", actor=personas.owner
        ).pk
        == entry.pk
    )
    with pytest.raises(ValidationError):
        services.suppression_add(address="not an address", reason="manual", actor=personas.owner)
    with pytest.raises(ValidationError):
        services.suppression_remove(suppression=entry, note="", actor=personas.manager)
    services.suppression_remove(suppression=entry, note="asked by phone", actor=personas.manager)
    entry.refresh_from_db()
    assert entry.removed_at is not None and entry.removed_by == personas.manager
    assert not selectors.active_suppressions().exists()


def test_erasing_a_person_keeps_the_proof_as_an_anonymous_tombstone(personas, offers):
    contact = make_contact(personas.owner, "bo@example.com")
    record = _opt_in(contact, offers, ip="203.0.113.9")
    type(contact).all_objects.filter(pk=contact.pk).delete()
    kept = ConsentRecord.objects.get(pk=record.pk)
    assert kept.contact_id is None and kept.address == "bo@example.com"
    assert kept.policy_version == "1" and kept.ip_address == "203.0.113.9"


def test_admin_offers_no_way_to_change_the_ledger():
    from django.contrib import admin

    model_admin = admin.site._registry[ConsentRecord]
    assert not model_admin.has_add_permission(None)
    assert not model_admin.has_change_permission(None)
    assert not model_admin.has_delete_permission(None)
