"""Reading a row's cells into values: one error per bad cell, text kept as text."""

import datetime
import random
import string
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from rapport.accounts.contact_methods import email_normalise
from rapport.imports.services.cleaning import RowReader, fast_email, parse_decimal
from rapport.imports.services.mapping import targets_for

pytestmark = pytest.mark.django_db


def _reader(object_type: str, mapping: dict, **kw) -> RowReader:
    headers = list(mapping)
    return RowReader(headers=headers, mapping=mapping, targets=targets_for(object_type), **kw)


def test_fast_email_agrees_with_email_validator_or_steps_aside():
    rnd = random.Random(5)
    samples = [
        "Ann.Lee@Example.COM",
        "a+b@sub.example.co.uk",
        "x@localhost",
        "x@foo.test",
        "x@foo.arpa",
        "x@xn--bcher-kva.example",
        "a..b@example.com",
        ".a@example.com",
        "a@-example.com",
        "a@example.c",
        "a@example.123",
        "a" * 65 + "@example.com",
        "üser@example.com",
        "a@exa_mple.com",
        "a@example..com",
    ]
    alphabet = string.ascii_letters + string.digits + "._%+-@"
    for _ in range(3000):
        local = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 12)))
        domain = "".join(rnd.choice(string.ascii_letters + "-.") for _ in range(rnd.randint(1, 12)))
        samples.append(f"{local}@{domain}.{rnd.choice(['com', 'org', 'DE', 'x1', 'local'])}")
    checked = 0
    for sample in samples:
        fast = fast_email(sample)
        if fast is None:
            continue
        checked += 1
        try:
            slow = email_normalise(sample)
        except ValidationError:
            pytest.fail(f"fast path accepted {sample!r}, email-validator refuses it")
        assert fast == slow, sample
    assert checked > 100


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1234.5", Decimal("1234.5")),
        ("1,234.50", Decimal("1234.50")),
        ("1.234,50", Decimal("1234.50")),
        ("1 234,5", Decimal("1234.5")),
        ("€12", Decimal("12")),
        ("12 EUR", Decimal("12")),
        ("1,234", Decimal("1234")),
    ],
)
def test_numbers_in_usual_notations(text, value):
    assert parse_decimal(text) == value


def test_phone_numbers_use_the_rows_country_then_the_default_region(settings):
    settings.RAPPORT_PHONE_REGION = "US"
    reader = _reader("contacts", {"Phone": "phone", "Country": "country"})
    assert reader.read(2, ["01 42 68 53 00", "fr"]).values["phone"] == "+33142685300"
    assert reader.read(3, ["(415) 555-0134", ""]).values["phone"] == "+14155550134"


def test_each_bad_cell_is_one_issue_naming_its_column_and_field():
    reader = _reader("contacts", {"Mail": "email", "Tel": "phone", "Land": "country"})
    row = reader.read(7, ["not-an-email", "12", "Atlantis"])
    assert row.outcome == "failed"
    assert {(i.column, i.field, i.code) for i in row.issues} == {
        ("Mail", "email", "invalid_email"),
        ("Land", "country", "invalid_country"),
    }
    # A bad phone is left out with a warning, or (strict) is one more issue.
    assert [(i.column, i.field, i.code) for i in row.warnings] == [
        ("Tel", "phone", "invalid_phone")
    ]
    reader.strict = True
    row = reader.read(7, ["not-an-email", "12", "France"])
    assert ("Tel", "phone", "invalid_phone") in {(i.column, i.field, i.code) for i in row.issues}


def test_formula_like_cells_are_kept_as_text():
    reader = _reader("contacts", {"Last": "last_name", "Title": "title"})
    row = reader.read(2, ['=HYPERLINK("http://x")', "@SUM(A1)"])
    assert row.values == {"last_name": '=HYPERLINK("http://x")', "title": "@SUM(A1)"}


def test_our_exports_quote_is_dropped_so_exports_import_back():
    reader = _reader("contacts", {"Last": "last_name", "Phone": "phone"})
    row = reader.read(2, ["'=1+1", "'+44 20 7946 0958"])
    assert row.values == {"last_name": "=1+1", "phone": "+442079460958"}


def test_ragged_rows_are_reported_not_read():
    reader = _reader("contacts", {"A": "last_name", "B": "city"})
    short = reader.read(2, ["Lee"])
    long = reader.read(3, ["Lee", "Paris", "extra"])
    assert short.issues[0].code == long.issues[0].code == "ragged_row"
    assert "has 3 cells but the header has 2" in long.issues[0].message


def test_xlsx_rows_ending_early_are_padded():
    reader = _reader("contacts", {"A": "last_name", "B": "city"}, pad=True)
    assert reader.read(2, ["Lee"]).values == {"last_name": "Lee"}


def test_blank_rows_are_skipped():
    assert _reader("contacts", {"A": "last_name"}).read(2, ["  "]) is None


def test_full_names_are_split_on_the_last_space():
    reader = _reader("contacts", {"Name": "full_name"})
    assert reader.read(2, ["Jean  Pierre Dupont"]).values == {
        "first_name": "Jean Pierre",
        "last_name": "Dupont",
    }


def test_spreadsheet_values_are_read_by_type():
    reader = _reader(
        "opportunities",
        {"Close": "expected_close_date", "Amount": "amount", "Prob": "probability"},
    )
    row = reader.read(2, [datetime.datetime(2025, 5, 1), 1500.0, 0.4])
    assert row.values == {
        "expected_close_date": datetime.date(2025, 5, 1),
        "amount": Decimal("1500.00"),
        "probability": 40,
    }


def test_text_longer_than_the_field_is_an_error():
    row = _reader("contacts", {"Last": "last_name"}).read(2, ["x" * 101])
    assert row.issues[0].code == "too_long"
