"""Guessing a mapping from a header, and checking an edited one."""

import pytest
from django.core.exceptions import ValidationError

from rapport.imports.services.mapping import guess_mapping, mapping_clean
from rapport.records.custom_fields import custom_field_define


def test_headers_are_matched_without_case_accents_spacing_or_punctuation(db):
    headers = ["PRÉNOM", "Last  Name", "E-mail", "Tel", "Company", "Zip code", "Notes", "Misc"]
    assert guess_mapping("contacts", headers) == {
        "PRÉNOM": "first_name",
        "Last  Name": "last_name",
        "E-mail": "email",
        "Tel": "phone",
        "Company": "account",
        "Zip code": "postal_code",
        "Notes": "description",
        "Misc": None,
    }


@pytest.mark.parametrize("header", ["Email", "email address", "E-Mail Address", "Courriel"])
def test_email_synonyms(db, header):
    assert guess_mapping("contacts", [header]) == {header: "email"}


def test_company_is_the_account_name_for_accounts_and_the_company_for_leads(db):
    assert guess_mapping("accounts", ["Company"]) == {"Company": "name"}
    assert guess_mapping("leads", ["Company"]) == {"Company": "company"}


def test_each_field_is_taken_by_the_first_matching_column_only(db):
    assert guess_mapping("contacts", ["Email", "E-mail"]) == {"Email": "email", "E-mail": None}


def test_custom_fields_are_guessed_by_key_or_label(db):
    custom_field_define(
        object_type="contact", key="vip_level", label="VIP level", field_type="number"
    )
    custom_field_define(object_type="contact", key="shoe", label="Shoe size", field_type="text")
    mapping = guess_mapping("contacts", ["vip_level", "Shoe Size", "custom.shoe"])
    assert mapping == {
        "vip_level": "custom.vip_level",
        "Shoe Size": "custom.shoe",
        "custom.shoe": None,
    }


def _clean(mapping, policy="update", headers=("A", "B")):
    return mapping_clean(
        object_type="contacts", headers=list(headers), mapping=mapping, policy=policy
    )


def test_a_clean_mapping_lists_every_column(db):
    assert _clean({"A": "last_name"}) == {"A": "last_name", "B": None}


@pytest.mark.parametrize(
    ("mapping", "policy", "code"),
    [
        ({"Nope": "email"}, "update", "unknown_column"),
        ({"A": "shoe_size"}, "update", "unknown_field"),
        ({"A": "email", "B": "email"}, "update", "duplicate_field"),
        ({"A": None}, "update", "nothing_mapped"),
        ({"A": "city"}, "update", "required_columns"),
        ({"A": "email"}, "create", "required_columns"),
    ],
)
def test_bad_mappings_are_refused_with_a_code(db, mapping, policy, code):
    with pytest.raises(ValidationError) as exc:
        _clean(mapping, policy)
    assert exc.value.error_dict["mapping"][0].code == code


def test_a_match_key_alone_is_enough_to_update(db):
    assert _clean({"A": "email", "B": "city"}) == {"A": "email", "B": "city"}


def test_a_full_name_column_stands_for_the_last_name(db):
    assert _clean({"A": "full_name"}, policy="create")["A"] == "full_name"


def test_orders_need_a_customer_column(db):
    with pytest.raises(ValidationError) as exc:
        mapping_clean(
            object_type="orders",
            headers=["id", "date", "price"],
            mapping={"id": "external_id", "date": "ordered_at", "price": "unit_price"},
            policy="update",
        )
    assert "account or contact_email" in exc.value.error_dict["mapping"][0].message
