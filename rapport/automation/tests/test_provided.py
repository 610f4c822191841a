"""The actions other apps provide: send_email through the mail outbox, call_webhook through
the webhook outbox; both written by the rule's step, and an auto-reply is never answered."""

import pytest

from rapport.accounts.services import contact_create
from rapport.automation.models import Run
from rapport.mail.models import Delivery, Direction, EmailTemplate, MailMessage, MailThread
from rapport.webhooks.models import WebhookDelivery
from rapport.webhooks.services import subscription_create

pytestmark = pytest.mark.django_db


def _template():
    return EmailTemplate.objects.create(
        name="Welcome",
        subject="Welcome, {{ contact.first_name }}",
        body_text="Hello {{ contact.first_name | default('there') }}",
    )


def test_send_email_action_queues_the_rendered_template(personas, make_rule, worker):
    _template()
    make_rule(actions=[{"type": "send_email", "params": {"template": "Welcome"}}])
    contact = contact_create(
        actor=personas.owner,
        fields={"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"},
    )
    runs = worker()
    assert [r.state for r in runs] == ["done"], [r.error for r in runs]
    message = MailMessage.objects.get(direction=Direction.OUTBOUND)
    assert message.to == ["ann@example.com"] and message.subject == "Welcome, Ann"
    assert message.text_body == "Hello Ann"
    assert Delivery.objects.filter(message=message).exists()
    assert message.links.filter(contact=contact).exists()


def test_send_email_does_not_answer_an_auto_reply(personas, make_rule, worker):
    _template()
    make_rule(
        trigger_type="email.received",
        actions=[{"type": "send_email", "params": {"template": "Welcome"}}],
    )
    contact = contact_create(
        actor=personas.owner,
        fields={"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"},
    )
    thread = MailThread.objects.create(token="00112233445566aa", subject="Out of office")
    received = MailMessage.objects.create(
        thread=thread,
        direction=Direction.INBOUND,
        from_address="ann@example.com",
        subject="Out of office",
        is_auto_reply=True,
    )
    from rapport.mail.inbound import _timeline_for

    _timeline_for(received, [{"contact_id": contact.pk}])
    runs = [r for r in worker() if r.rule.trigger_type == "email.received"]
    assert [r.state for r in runs] == ["done"]
    assert not MailMessage.objects.filter(direction=Direction.OUTBOUND).exists()


def test_call_webhook_action_queues_one_signed_delivery(personas, make_rule, worker, monkeypatch):
    from rapport.webhooks import http

    monkeypatch.setattr(http, "resolve", lambda host, port: ["93.184.215.14"])
    subscription, _ = subscription_create(
        actor=personas.admin, name="CRM sink", url="https://hooks.example.com/in", event_types=["*"]
    )
    make_rule(actions=[{"type": "call_webhook", "params": {"subscription_id": subscription.pk}}])
    contact = contact_create(actor=personas.owner, fields={"first_name": "Ann", "last_name": "Lee"})
    runs = worker()
    assert [r.state for r in Run.objects.all()] == ["done"], [r.error for r in runs]
    delivery = WebhookDelivery.objects.get(event_type="automation.webhook")
    assert delivery.url == "https://hooks.example.com/in"
    assert f'"id":{contact.pk}' in delivery.body
