"""Browser journeys of mail: connect a mailbox and test it; write a template with its live
preview; send from a contact page's Email tab with a template, over the real SMTP server."""

import pytest
from django.urls import get_resolver
from playwright.sync_api import expect

from rapport.accounts.services import account_create, contact_create
from rapport.conftest import sign_in
from rapport.identity.models import Role
from rapport.identity.services import user_create
from rapport.mail.models import Delivery, DeliveryState, EmailTemplate, Mailbox, Security

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def rep(transactional_db):
    # Import every view before the first page (on a loaded machine that first URL
    # resolution alone can take longer than a page's timeout).
    get_resolver().reverse_dict  # noqa: B018
    return user_create(
        username="rita",
        first_name="Rita",
        last_name="Rep",
        email="rita@example.com",
        validate=False,
    )


def test_send_from_the_contact_page_with_a_template(page, rep, smtp_server):
    account = account_create(actor=rep, fields={"name": "Fjord Freight", "industry": "Retail"})
    contact = contact_create(
        actor=rep,
        fields={"first_name": "Nora", "last_name": "Berg", "account_id": account.pk},
        emails=[{"email": "nora@example.com"}],
    )
    Mailbox.objects.create(
        name="Rita",
        email_address="rita@example.com",
        display_name="Rita Rep",
        owner=rep,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security=Security.NONE,
    )
    EmailTemplate.objects.create(
        name="Follow-up",
        subject="Following up, {{ contact.first_name }}",
        body_text="Hi {{ contact.first_name }},\n"
        "{% if account.industry == 'Retail' %}Our retail offer is attached.{% endif %}\n"
        "{{ sender.name }}",
    )
    sign_in(page, rep)
    page.goto(f"/contacts/{contact.pk}/")
    page.get_by_role("link", name="Email", exact=True).click()
    form = page.locator("#composer-email")
    expect(form).to_be_visible()
    expect(form.get_by_label("Nora Berg <nora@example.com>")).to_be_checked()
    form.get_by_label("Template").select_option(label="Follow-up")
    expect(page.locator("#composer-email [name=subject]")).to_have_value(
        "Following up, {{ contact.first_name }}"
    )
    page.locator("#composer-email [name=cc]").fill("boss@example.com")
    page.set_input_files(
        "#composer-email [name=attachments]",
        files=[{"name": "offer.txt", "mimeType": "text/plain", "buffer": b"the offer"}],
    )
    page.locator("#composer-email").get_by_role("button", name="Send email").click()
    expect(page.locator(".outgoing-item").first).to_contain_text("Sent")
    expect(page.locator("#timeline")).to_contain_text("Email sent: Following up, Nora")
    (got,) = smtp_server.sink.messages
    assert got.message["Subject"] == "Following up, Nora"
    assert sorted(got.rcpt_tos) == ["boss@example.com", "nora@example.com"]
    body = got.message.get_body(("plain",)).get_content()
    assert "Hi Nora," in body and "retail offer" in body and "Rita Rep" in body
    assert [a.get_filename() for a in got.message.iter_attachments()] == ["offer.txt"]
    assert Delivery.objects.get().state == DeliveryState.SENT
    assert page.errors == []


def test_header_injection_in_the_composer_names_the_field(page, rep, smtp_server):
    contact = contact_create(
        actor=rep,
        fields={"first_name": "Nora", "last_name": "Berg"},
        emails=[{"email": "nora@example.com"}],
    )
    sign_in(page, rep)
    page.goto(f"/contacts/{contact.pk}/?compose=email#composer")
    page.locator("#composer-email [name=to_other]").fill("x@example.com\nBcc: evil@example.com")
    page.locator("#composer-email [name=subject]").fill("Hello")
    page.locator("#composer-email [name=body]").fill("Hi")
    page.locator("#composer-email").get_by_role("button", name="Send email").click()
    expect(page.locator("#composer-email .field-error").first).to_be_visible()
    assert not Delivery.objects.exists()
    assert smtp_server.sink.messages == []


def test_connect_a_mailbox_and_test_it(page, rep, smtp_server):
    sign_in(page, rep)
    page.goto("/mail/mailboxes/")
    page.get_by_role("link", name="Connect your mailbox").click()
    page.get_by_label("Name").first.fill("My mail")
    page.get_by_label("Email address").fill("rita@example.com")
    page.get_by_label("SMTP server").fill(smtp_server.host)
    page.get_by_label("SMTP port").fill(str(smtp_server.port))
    page.get_by_label("SMTP security").select_option("none")
    page.get_by_label("Password, app password or OAuth2 token").fill("secret-1")
    page.get_by_role("button", name="Add mailbox").click()
    expect(page.get_by_text("A password is stored (encrypted).")).to_be_visible()
    assert "secret-1" not in page.content()
    page.get_by_role("button", name="Test connection").click()
    # The test server offers no AUTH: the login step is where it fails, and it says so.
    expect(page.locator("#connection-result")).to_contain_text("SMTP DNS")
    expect(page.locator("#connection-result")).to_contain_text("SMTP LOGIN")
    assert Mailbox.objects.get().get_secret() == "secret-1"
    assert page.errors == []


def test_template_editor_previews_live_and_points_at_the_line(page, rep):
    rep.role = Role.ADMIN  # templates speak for the organisation: administrators write them
    rep.save(update_fields=["role"])
    contact_create(
        actor=rep,
        fields={"first_name": "Nora", "last_name": "Berg"},
        emails=[{"email": "nora@example.com"}],
    )
    sign_in(page, rep)
    page.goto("/mail/templates/new")
    page.get_by_label("Name").fill("Hello")
    page.get_by_label("Subject").fill("Hi {{ contact.first_name }}")
    page.get_by_label("Preview with").select_option(index=1)
    page.get_by_label("Text").fill("Dear {{ contact.last_name }}")
    expect(page.locator("#template-preview")).to_contain_text("Dear Berg")
    expect(page.locator(".preview-subject")).to_have_text("Hi Nora")
    page.get_by_label("Text").fill("line one\n{{ contact.frist_name }}")
    expect(page.locator(".template-problem")).to_contain_text("line 2")
    page.get_by_label("Text").fill("Dear {{ contact.last_name }}")
    page.get_by_role("button", name="Create template").click()
    expect(page.get_by_text("Template Hello created.")).to_be_visible()
    assert EmailTemplate.objects.get().body_text == "Dear {{ contact.last_name }}"
    assert page.errors == []
