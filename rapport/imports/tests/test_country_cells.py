"""Import cells with a country or currency name map to the ISO code ("Germany" → DE)."""

import pytest

from rapport.imports.services.cleaning import RowReader
from rapport.imports.services.mapping import targets_for

pytestmark = pytest.mark.django_db


def _reader(object_type: str, mapping: dict) -> RowReader:
    return RowReader(headers=list(mapping), mapping=mapping, targets=targets_for(object_type))


def test_country_names_and_codes_map_to_iso_codes():
    reader = _reader("contacts", {"Last": "last_name", "Country": "country"})
    for cell, code in (("Germany", "DE"), ("germany", "DE"), ("de", "DE"), ("DEU", "DE")):
        assert reader.read(2, ["Lee", cell]).values["country"] == code, cell


def test_an_unknown_country_is_a_cell_error_not_a_cut_code():
    reader = _reader("contacts", {"Last": "last_name", "Country": "country"})
    row = reader.read(2, ["Lee", "Germanyy"])
    assert row.outcome == "failed"
    assert [(i.field, i.code) for i in row.issues] == [("country", "invalid_country")]


def test_currency_names_map_to_iso_codes():
    reader = _reader("accounts", {"Name": "name", "Currency": "currency"})
    assert reader.read(2, ["Acme", "Euro"]).values["currency"] == "EUR"
    row = reader.read(3, ["Acme", "XYZ"])
    assert [(i.field, i.code) for i in row.issues] == [("currency", "invalid_currency")]
