"""Countries (ISO 3166-1 alpha-2) and currencies (ISO 4217), from pycountry.

One place for the standard lists: the pickers' choices, the model validators (so the API,
forms, inline edits and services refuse a code that is not on the list) and the
name → code mapping (`country_code("Germany") == "DE"`) that forms and imports use. A value
that is neither a code nor an exact name is refused, never cut to its first letters.
"""

import functools
import unicodedata

import pycountry
from django.core.exceptions import ValidationError

COUNTRY_HINT = "choose one from the list or use its two-letter ISO code, e.g. DE"
CURRENCY_HINT = "choose one from the list or use its three-letter ISO code, e.g. EUR"
# Names people write that are not ISO names (GB is "United Kingdom" in ISO 3166).
_COUNTRY_ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "united states of america": "US",
    "america": "US",
    "russia": "RU",
    "south korea": "KR",
    "north korea": "KP",
    "vietnam": "VN",
    "czech republic": "CZ",
    "holland": "NL",
    "the netherlands": "NL",
    "turkey": "TR",
    "ivory coast": "CI",
    "macedonia": "MK",
    "swaziland": "SZ",
    "burma": "MM",
}


def _key(text: str) -> str:
    """Lower case without accents or surrounding blanks: "Côte d'Ivoire " → "cote d'ivoire"."""
    decomposed = unicodedata.normalize("NFKD", text.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@functools.cache
def _country_names() -> dict[str, str]:
    # The common name where ISO's is formal ("Bolivia", not "Bolivia, Plurinational State of").
    return {c.alpha_2: getattr(c, "common_name", None) or c.name for c in pycountry.countries}


@functools.cache
def _country_keys() -> dict[str, str]:
    keys = dict(_COUNTRY_ALIASES)
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name", "alpha_3", "alpha_2"):
            value = getattr(country, attr, None)
            if value:
                keys[_key(value)] = country.alpha_2
    return keys


@functools.cache
def _currency_names() -> dict[str, str]:
    return {c.alpha_3: c.name for c in pycountry.currencies}


@functools.cache
def _currency_keys() -> dict[str, str]:
    keys = {}
    for currency in pycountry.currencies:
        keys[_key(currency.name)] = currency.alpha_3
        keys[_key(currency.alpha_3)] = currency.alpha_3
    return keys


def country_choices() -> list[tuple[str, str]]:
    """(code, name) of every ISO 3166-1 country, by name."""
    return sorted(_country_names().items(), key=lambda item: _key(item[1]))


def currency_choices() -> list[tuple[str, str]]:
    """(code, "EUR — Euro") of every ISO 4217 currency, by code."""
    return [(code, f"{code} — {name}") for code, name in sorted(_currency_names().items())]


def country_name(code: str) -> str:
    """The country's name; an unknown code is shown as it is stored."""
    return _country_names().get((code or "").upper(), code or "")


def currency_name(code: str) -> str:
    return _currency_names().get((code or "").upper(), code or "")


# Imports name a handful of countries thousands of times: each distinct text is looked up once
# (a pure function of the text; refusals raise, and exceptions are never cached).
@functools.lru_cache(maxsize=4096)
def country_code(value: str | None) -> str:
    """The alpha-2 code of a code (alpha-2 or alpha-3, any case) or an exact English name
    ("Germany", "germany", "Federal Republic of Germany", "UK"); "" for nothing.
    Anything else raises ValidationError(code="invalid_country")."""
    text = (value or "").strip()
    if not text:
        return ""
    code = _country_keys().get(_key(text))
    if code is None:
        raise ValidationError(f"“{text}” is not a country: {COUNTRY_HINT}", code="invalid_country")
    return code


def currency_code(value: str | None) -> str:
    """The ISO 4217 code of a code (any case) or an exact English name ("Euro",
    "US Dollar"); "" for nothing. Anything else raises ValidationError(code="invalid_currency")."""
    text = (value or "").strip()
    if not text:
        return ""
    code = _currency_keys().get(_key(text))
    if code is None:
        raise ValidationError(
            f"“{text}” is not a currency: {CURRENCY_HINT}", code="invalid_currency"
        )
    return code


def validate_country(value: str) -> None:
    """Model validator: an ISO 3166-1 alpha-2 code as stored (upper case)."""
    if value and value not in _country_names():
        raise ValidationError(
            f"“{value}” is not an ISO country code: {COUNTRY_HINT}", code="invalid_country"
        )


def validate_currency(value: str) -> None:
    """Model validator: an ISO 4217 code as stored (upper case)."""
    if value and value not in _currency_names():
        raise ValidationError(
            f"“{value}” is not an ISO currency code: {CURRENCY_HINT}", code="invalid_currency"
        )


def normalise_codes(
    fields: dict, *, countries: tuple[str, ...] = (), currencies: tuple[str, ...] = ()
) -> dict:
    """A copy of a service's `fields` with the named country and currency fields turned
    into their codes (names accepted, see `country_code`); a ValidationError naming every
    field that is neither."""
    fields = dict(fields)
    errors: dict[str, list[ValidationError]] = {}
    for names, to_code in ((countries, country_code), (currencies, currency_code)):
        for name in names:
            if fields.get(name) is None:
                continue
            try:
                fields[name] = to_code(fields[name])
            except ValidationError as exc:
                errors[name] = [exc]
    if errors:
        raise ValidationError(errors)
    return fields
