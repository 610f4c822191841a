"""Countries and currencies come from the ISO lists: codes or exact names map to the code,
anything else is refused with a clear error — never cut to its first letters."""

import pytest
from django.core.exceptions import ValidationError

from rapport.records.iso_codes import (
    country_choices,
    country_code,
    country_name,
    currency_choices,
    currency_code,
    normalise_codes,
    validate_country,
    validate_currency,
)


@pytest.mark.parametrize(
    "text, code",
    [
        ("Germany", "DE"),
        ("germany ", "DE"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("Federal Republic of Germany", "DE"),
        ("Georgia", "GE"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("United States", "US"),
        ("", ""),
        (None, ""),
    ],
)
def test_country_code_of_codes_and_names(text, code):
    assert country_code(text) == code


@pytest.mark.parametrize("text", ["Germ", "XX", "Atlantis", "Deutschland und so"])
def test_unknown_countries_are_refused_not_cut(text):
    with pytest.raises(ValidationError) as caught:
        country_code(text)
    assert caught.value.code == "invalid_country"
    assert text in caught.value.messages[0]


@pytest.mark.parametrize(
    "text, code", [("EUR", "EUR"), ("eur", "EUR"), ("Euro", "EUR"), ("US Dollar", "USD")]
)
def test_currency_code_of_codes_and_names(text, code):
    assert currency_code(text) == code


def test_unknown_currencies_are_refused():
    for text in ("EURO2", "XYZ", "Dollars"):
        with pytest.raises(ValidationError) as caught:
            currency_code(text)
        assert caught.value.code == "invalid_currency"


def test_validators_accept_only_stored_iso_codes():
    validate_country("DE")
    validate_country("")
    validate_currency("JPY")
    for bad in ("XX", "de", "Germany"):
        with pytest.raises(ValidationError):
            validate_country(bad)
    for bad in ("XYZ", "eur"):
        with pytest.raises(ValidationError):
            validate_currency(bad)


def test_choices_are_the_standard_lists_by_name():
    countries = dict(country_choices())
    assert countries["DE"] == "Germany"
    assert countries["BO"] == "Bolivia"  # the common name, not "Plurinational State of"
    assert len(countries) >= 249
    names = [name for _, name in country_choices()]
    assert names.index("Germany") < names.index("Georgia") or names.index("Georgia") < names.index(
        "Germany"
    )
    assert dict(currency_choices())["EUR"] == "EUR — Euro"
    assert country_name("DE") == "Germany"
    assert country_name("ZZ") == "ZZ"


def test_normalise_codes_names_every_bad_field():
    assert normalise_codes(
        {"country": "Germany", "currency": "euro", "name": "x"},
        countries=("country",),
        currencies=("currency",),
    ) == {"country": "DE", "currency": "EUR", "name": "x"}
    with pytest.raises(ValidationError) as caught:
        normalise_codes(
            {"country": "Germ", "shipping_country": "Nowhere", "currency": "XYZ"},
            countries=("country", "shipping_country"),
            currencies=("currency",),
        )
    assert set(caught.value.message_dict) == {"country", "shipping_country", "currency"}
