"""Record pages speak in words: errors without internal paths, one date format (the
user's locale), timeline updates with old → new values, stored keys as labels."""

import datetime
import re

import pytest
from django import forms
from django.core.exceptions import ValidationError

from rapport.accounts.services import account_close, account_create, contact_create
from rapport.accounts.services import contact_update as contact_edit
from rapport.sales.services import opportunity_create, opportunity_update
from rapport.web.forms import add_service_errors, field_label
from rapport.web.testing import HTMX, field_error, text_of, ui_client

pytestmark = pytest.mark.django_db


# ----- errors in words -------------------------------------------------------------------


def test_inline_email_error_is_next_to_the_input_without_the_internal_path(personas):
    contact = contact_create(actor=personas.owner, fields={"last_name": "Lee"})
    r = ui_client(personas.owner).post(
        f"/contacts/{contact.pk}/fields/email/",
        {"value": "not-an-email", "version": contact.version},
        headers=HTMX,
    )
    assert r.status_code == 422
    body = text_of(r)
    assert "emails[0]" not in body
    assert field_error(r, "Not a valid email address")


@pytest.mark.parametrize(
    "path, words",
    [
        ("emails[0].email", "Email 1"),
        ("phones[1].number", "Phone 2"),
        ("lines[2].quantity", "Line 3: quantity"),
        ("custom.tier", "Tier"),
        ("opportunity.stage_id", "Opportunity: stage"),
        ("owner_id", "Owner"),
    ],
)
def test_field_paths_read_as_words(path, words):
    assert field_label(path) == words


def test_errors_without_a_field_on_the_form_go_on_top_in_words():
    class OneField(forms.Form):
        name = forms.CharField()

    form = OneField({"name": "x"})
    form.is_valid()
    add_service_errors(form, ValidationError({"emails[0].email": ["Not a valid email address"]}))
    assert form.non_field_errors() == ["Email 1: Not a valid email address"]


def test_filter_errors_name_the_field_by_its_label(personas):
    body = text_of(ui_client(personas.owner).get("/activities/?due_from=nope"))
    assert "due_from:" not in body


def test_import_summary_keys_are_words():
    from django.template import Context, Template

    out = Template("{% load rapport_ui %}{{ key|key_label }}").render(
        Context({"key": "accounts_created"})
    )
    assert out == "Accounts created"


# ----- one date format ----------------------------------------------------------------------

MONTH_WORDS = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.? \d")


def _opportunity_page(personas, **headers):
    opportunity = opportunity_create(
        actor=personas.owner,
        fields={"name": "Deal", "expected_close_date": datetime.date(2026, 8, 7)},
    )
    return text_of(ui_client(personas.owner).get(f"/opportunities/{opportunity.pk}/", **headers))


def test_record_page_shows_dates_in_one_numeric_locale_format(personas):
    body = _opportunity_page(personas)
    assert "08/07/2026" in body  # en-US (the site's default): close date fact and field
    assert "2026-08-07<" not in body
    assert not MONTH_WORDS.search(body), MONTH_WORDS.search(body)


def test_dates_follow_the_browsers_locale(personas):
    assert "07.08.2026" in _opportunity_page(personas, headers={"Accept-Language": "de-DE,de"})
    assert "07/08/2026" in _opportunity_page(personas, headers={"Accept-Language": "en-GB"})


def test_closed_account_and_its_timeline_use_the_same_format(personas):
    account = account_create(actor=personas.owner, fields={"name": "Acme"})
    account_close(
        account=account, actor=personas.owner, closed_at=datetime.date(2026, 3, 1), reason="x"
    )
    body = text_of(ui_client(personas.owner).get(f"/accounts/{account.pk}/"))
    assert "Closed 03/01/2026" in body
    assert not MONTH_WORDS.search(body)


# ----- timeline: old → new ---------------------------------------------------------------------


def test_timeline_shows_old_and_new_values_of_a_change(personas):
    contact = contact_create(actor=personas.owner, fields={"last_name": "Lee", "title": "CTO"})
    contact_edit(contact=contact, actor=personas.owner, fields={"title": "CEO", "country": "DE"})
    body = text_of(ui_client(personas.owner).get(f"/contacts/{contact.pk}/"))
    items = re.findall(r'<ul class="event-changes">(.*?)</ul>', body, re.S)
    assert items, "no change list on the timeline"
    text = re.sub(r"<[^>]+>", "", items[0])
    assert "Title: from CTO → to CEO" in text
    assert "Country: from — → to Germany" in text
    assert "Changed country, title" in body


def test_timeline_dates_in_a_change_use_the_locale_format(personas):
    opportunity = opportunity_create(actor=personas.owner, fields={"name": "Deal"})
    opportunity_update(
        opportunity=opportunity,
        actor=personas.owner,
        fields={"expected_close_date": datetime.date(2026, 8, 7)},
    )
    body = text_of(ui_client(personas.owner).get(f"/opportunities/{opportunity.pk}/"))
    text = re.sub(r"<[^>]+>", "", "".join(re.findall(r'class="event-changes">(.*?)</ul>', body)))
    assert "Close date: from — → to 08/07/2026" in text or "date: from — → to 08/07/2026" in text
