import pytest
from django.core.exceptions import ValidationError

from rapport.mail.models import Delivery, DeliveryState, MailMessage
from rapport.mail.rendering import TemplateProblem, render_template
from rapport.mail.services import queue_email
from rapport.mail.tokens import (
    body_reference,
    find_body_reference,
    make_message_id,
    our_tokens_in,
    parse_message_id,
)


def test_message_id_round_trip_and_forgery_refused():
    mid = make_message_id(42, "0123456789abcdef")
    assert parse_message_id(mid) == (42, "0123456789abcdef")
    forged = mid.replace("r42.", "r43.")
    assert parse_message_id(forged) is None
    assert our_tokens_in(f"<x@y> {forged} {mid}") == [(42, "0123456789abcdef")]


def test_body_reference_is_signed():
    ref = body_reference("0123456789abcdef")
    assert find_body_reference(f"> quoted\n{ref}\n") == "0123456789abcdef"
    assert find_body_reference(ref.replace("0123", "0124")) is None


def test_sandbox_cannot_reach_python_objects():
    assert render_template("Hi {{ c.name | default('there') }}", {"c": {}}) == "Hi there"
    with pytest.raises(TemplateProblem):
        render_template("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})
    with pytest.raises(TemplateProblem):
        render_template("{% if %}", {})
    assert render_template("{{ x }}", {"x": "<b>"}, html=True) == "&lt;b&gt;"


@pytest.mark.django_db
def test_queue_email_writes_message_and_outbox_row():
    message = queue_email(to=["Ann@Example.com"], subject="Hello", text="Hi")
    delivery = Delivery.objects.get(message=message)
    assert delivery.state == DeliveryState.QUEUED
    assert parse_message_id(message.message_id) == (message.pk, message.thread.token)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"to": ["a@example.com"], "subject": "Hi\r\nBcc: x@evil.test"}, "subject"),
        ({"to": ["a@example.com\r\nBcc: x@evil.test"], "subject": "Hi"}, "to"),
        ({"to": ["not an address"], "subject": "Hi"}, "to"),
        ({"to": [], "subject": "Hi"}, "to"),
    ],
)
def test_queue_email_refuses_bad_headers(kwargs, field):
    with pytest.raises(ValidationError) as info:
        queue_email(**kwargs)
    assert field in info.value.message_dict
    assert not MailMessage.objects.exists()


def test_secret_round_trip_is_encrypted():
    from rapport.mail.models import Mailbox

    box = Mailbox(name="Sales", email_address="sales@example.com")
    box.set_secret("hunter2")
    assert "hunter2" not in box.secret_encrypted
    assert box.get_secret() == "hunter2"
