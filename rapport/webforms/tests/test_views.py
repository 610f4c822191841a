"""The hosted page and the staff pages: the public form works without a login, says why a
submission was refused, is framable only by the company's sites; QR codes encode the hosted
address; submissions are listed only for people the user may see."""

import io
import time

import pytest
import segno
from django.core import signing
from django.test import Client
from PIL import Image

from rapport.leads.models import Lead
from rapport.webforms import spam
from rapport.webforms.models import FormSubmission
from rapport.webforms.tests.conftest import answers
from rapport.webforms.views import public_url

pytestmark = pytest.mark.django_db


def _old_stamp(form, seconds=10):
    return signing.dumps(
        {"f": form.pk, "t": time.time() - seconds}, salt="rapport.webforms.started"
    )


def test_hosted_page_needs_no_login_and_carries_utm_and_spam_fields(web_form, public_client):
    response = public_client.get(f"/f/{web_form.slug}/?utm_source=qr&utm_campaign=fair")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="utm_source" value="qr"' in html and 'name="utm_campaign" value="fair"' in html
    assert f'name="{spam.HONEYPOT}"' in html and f'name="{spam.STAMP}"' in html
    assert "A monthly newsletter" in html  # the purpose's policy text next to its checkbox
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://example.com https://*.example.com" in csp
    assert "X-Frame-Options" not in response


def test_hosted_page_submission_thanks_and_sets_the_visitor_cookie(web_form, public_client):
    data = answers(web_form, consent_newsletter="on")
    data[spam.STAMP] = _old_stamp(web_form)
    response = public_client.post(f"/f/{web_form.slug}/", data)
    assert response.status_code == 200, response.content.decode()[:500]
    assert "Thank you" in response.content.decode()
    assert "rpv" in response.cookies and response.cookies["rpv"]["httponly"]
    assert Lead.objects.filter(email="nora@example.org").count() == 1


def test_hosted_page_explains_a_refusal(web_form, public_client):
    data = answers(web_form)  # stamp made just now: too fast
    response = public_client.post(f"/f/{web_form.slug}/", data)
    assert response.status_code == 400
    assert "too quickly" in response.content.decode()
    data[spam.STAMP] = _old_stamp(web_form)
    data["email"] = "nope"
    response = public_client.post(f"/f/{web_form.slug}/", data)
    assert response.status_code == 422
    assert "Enter a valid email address" in response.content.decode()
    assert FormSubmission.objects.count() == 0


def test_closed_form_says_so(web_form, public_client):
    web_form.is_active = False
    web_form.save(update_fields=["is_active"])
    assert public_client.get(f"/f/{web_form.slug}/").status_code == 410


def _matrix_from_png(data: bytes, scale: int, border: int) -> list[list[bool]]:
    image = Image.open(io.BytesIO(data)).convert("L")
    size = image.width // scale - 2 * border
    return [
        [
            image.getpixel(((x + border) * scale + scale // 2, (y + border) * scale + scale // 2))
            < 128
            for x in range(size)
        ]
        for y in range(size)
    ]


def test_qr_codes_encode_the_hosted_address(web_form, personas):
    client = Client()
    client.force_login(personas.owner)
    url = public_url(web_form)
    expected = [[bool(v) for v in row] for row in segno.make(url, error="m", micro=False).matrix]
    png = client.get(f"/forms/{web_form.pk}/qr.png")
    assert png["Content-Type"] == "image/png"
    assert _matrix_from_png(png.content, 8, 4) == expected
    svg = client.get(f"/forms/{web_form.pk}/qr.svg?download=1")
    assert svg["Content-Type"] == "image/svg+xml"
    assert svg.content.startswith(b"<?xml") and b"<svg" in svg.content
    assert 'filename="form-contact-us.svg"' in svg["Content-Disposition"]


def test_staff_pages_render(web_form, personas):
    client = Client()
    client.force_login(personas.manager)
    assert client.get("/forms/").status_code == 200
    page = client.get(f"/forms/{web_form.pk}/").content.decode()
    assert "data-rapport-form" in page and "&lt;iframe" in page
    assert client.get(f"/forms/{web_form.pk}/edit").status_code == 200
    assert client.get("/forms/new").status_code == 200


def test_builder_creates_a_form(personas, newsletter):
    client = Client()
    client.force_login(personas.manager)
    response = client.post(
        "/forms/new",
        {
            "name": "Trade fair",
            "slug": "",
            "title": "Meet us at the fair",
            "submit_label": "Send",
            "target": "lead",
            "assign_mode": "user",
            "assign_user": personas.owner.pk,
            "lead_source": "fair",
            "thank_you_message": "Thanks!",
            "min_fill_seconds": 2,
            "is_active": "on",
            "consent_purposes": [newsletter.pk],
            "f_last_name_on": "on",
            "f_last_name_req": "on",
            "f_last_name_label": "Surname",
            "f_last_name_pos": "1",
            "f_email_pos": "2",
            "f_company_on": "on",
            "f_company_label": "Company",
            "f_company_pos": "3",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    from rapport.webforms.models import WebForm

    form = WebForm.objects.get(slug="trade-fair")
    assert [f["key"] for f in form.fields] == ["last_name", "email", "company"]
    assert form.fields[0] == {"key": "last_name", "label": "Surname", "required": True}
    assert list(form.consent_purposes.all()) == [newsletter]


def test_rep_cannot_open_the_builder(personas):
    client = Client()
    client.force_login(personas.owner)
    assert client.get("/forms/new").status_code == 403


def test_submissions_list_hides_people_the_user_cannot_see(web_form, personas):
    from rapport.webforms import services
    from rapport.webforms.tests.conftest import later

    services.form_submit(form=web_form, data=answers(web_form), ip="198.51.100.1", now=later())
    client = Client()
    client.force_login(personas.outsider)
    page = client.get(f"/forms/{web_form.pk}/").content.decode()
    assert "nora@example.org" not in page
    client.force_login(personas.owner)
    assert "nora@example.org" in client.get(f"/forms/{web_form.pk}/").content.decode()
