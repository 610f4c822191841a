"""Normalisation, blocking keys and scoring (no database)."""

import pytest

from rapport.duplicates.matching import (
    MIN_SCORE,
    account_features,
    blocking_keys,
    company_name_key,
    domain_key,
    email_key,
    fold,
    person_features,
    phone_key,
    score,
    soundex,
)


def person(pk, first, last, emails=(), phones=(), city="", company=""):
    return person_features(
        id=pk,
        first_name=first,
        last_name=last,
        emails=list(emails),
        phones=list(phones),
        city=city,
        company=company,
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Jane.Doe@Example.com", "jane.doe@example.COM"),
        ("jane.doe@gmail.com", "janedoe@gmail.com"),
        ("jane.doe+crm@gmail.com", "JaneDoe@googlemail.com"),
        ("jane+news@acme.io", "jane@acme.io"),
    ],
)
def test_email_key_treats_case_gmail_dots_and_plus_tags_as_one_mailbox(a, b):
    assert email_key(a) == email_key(b) != ""


def test_email_key_keeps_dots_outside_gmail_and_rejects_non_addresses():
    assert email_key("jane.doe@acme.io") != email_key("janedoe@acme.io")
    assert email_key("not an email") == ""
    assert email_key("+tag@acme.io") == ""


@pytest.mark.parametrize("raw", ["(650) 253-0000", "650.253.0000", "+1 650 253 0000", "6502530000"])
def test_phone_key_is_e164_whatever_the_format(raw, settings):
    settings.RAPPORT_PHONE_REGION = "US"
    phone_key.cache_clear()
    assert phone_key(raw) == "+16502530000"


def test_phone_key_of_garbage_is_empty():
    assert phone_key("call me") == ""
    assert phone_key("") == ""


@pytest.mark.parametrize(
    ("word", "code"),
    [("robert", "r163"), ("rupert", "r163"), ("ashcraft", "a261"), ("tymczak", "t522")],
)
def test_soundex_matches_the_reference_codes(word, code):
    assert soundex(word) == code


def test_fold_drops_accents_case_and_punctuation():
    assert fold("Zoë O'Brien-Smith") == "zoe o brien smith"
    assert fold("Straße") == "strasse"


def test_company_names_lose_their_legal_forms_and_domains_their_www():
    assert company_name_key("ACME, Inc.") == company_name_key("Acme GmbH") == "acme"
    assert domain_key("https://www.Acme.io/about") == "acme.io"
    assert domain_key("gmail.com") == ""


def test_person_keys_cover_email_phone_name_and_company():
    f = person(1, "Jane", "Doe", ["jane@acme.io"], ["+16502530000"], city="Paris")
    assert blocking_keys("contact", f) == {
        "e:jane@acme.io",
        "p:+16502530000",
        "n:d000j:paris",
        "c:acme.io:d000",
        "f:jane:d:paris",
    }


def test_a_typo_that_changes_the_soundex_still_shares_a_key():
    a = person(1, "Sofia", "Kaski", city="Oslo")
    b = person(2, "Sofia", "Kasik", city="Oslo")
    assert soundex("kaski") != soundex("kasik")
    assert blocking_keys("contact", a) & blocking_keys("contact", b)
    assert score("contact", a, b)[0] >= MIN_SCORE


def test_same_email_in_another_case_scores_as_duplicate():
    a = person(1, "Jane", "Doe", ["Jane.Doe@Example.com"])
    b = person(2, "Jane", "Doe", ["jane.doe@example.com"])
    value, reasons = score("contact", a, b)
    assert value >= 90
    assert "same email" in reasons and "same name" in reasons


def test_same_phone_in_other_formats_scores_as_duplicate():
    a = person(1, "Jane", "Doe", phones=["(650) 253-0000"])
    b = person(2, "Jane", "Doe", phones=["+1 650 253 0000"])
    value, reasons = score("contact", a, b)
    assert value >= MIN_SCORE
    assert "same phone" in reasons


def test_fuzzy_names_in_the_same_city_score_as_duplicate():
    a = person(1, "Jonathan", "Smith", city="Leeds")
    b = person(2, "Jonathon", "Smith", city="leeds")
    value, reasons = score("contact", a, b)
    assert value >= MIN_SCORE
    assert any(r.startswith("similar name") for r in reasons)
    assert "same city" in reasons


def test_distinct_people_at_one_company_do_not():
    a = person(1, "Anna", "Müller", ["anna@acme.io"], ["+16502530000"], "Berlin", "acme.io")
    b = person(2, "Peter", "Müller", ["peter@acme.io"], ["+16502530000"], "Berlin", "acme.io")
    value, _ = score("contact", a, b)
    assert value < MIN_SCORE


def test_accounts_with_the_same_name_or_domain_score_as_duplicates():
    acme = account_features(id=1, name="ACME, Inc.", website="https://acme.io")
    assert score("account", acme, account_features(id=2, name="Acme GmbH"))[0] >= MIN_SCORE
    value, reasons = score("account", acme, account_features(id=3, name="Acme", domain="acme.io"))
    assert value == 100 and "same domain" in reasons
    other = account_features(id=4, name="Globex Corporation", website="globex.com")
    assert score("account", acme, other)[0] < MIN_SCORE
