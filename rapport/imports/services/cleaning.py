"""Reading one row of a file into field values, with one error per bad cell.

An empty cell means "not given": a creation leaves the field at its default and an update
leaves it unchanged. Cells are text and stay text: a cell starting with = + - @ is stored
as written, never evaluated. The one exception undoes our own export's neutralisation: a
leading single quote before text the export calls formula-like
(`rapport.records.export.formula_like`) is dropped, so exported files import back
unchanged.
"""

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from email_validator import SPECIAL_USE_DOMAIN_NAMES

from rapport.accounts.contact_methods import PhoneProblem, email_normalise
from rapport.accounts.contact_methods import phone_e164 as contact_phone_e164
from rapport.imports.services.files import cell_text
from rapport.imports.services.mapping import Target
from rapport.records.custom_fields import _clean_value as custom_value_clean
from rapport.records.export import formula_like
from rapport.records.iso_codes import country_code, currency_code
from rapport.records.models import FieldType

MAX_MONEY = Decimal("1e14")
_MONEY_JUNK = re.compile(r"[\s\u00a0\u202f$€£¥]|[A-Z]{3}")
_TRUE = {"true", "1", "yes", "y", "oui", "ja", "si", "x"}
_FALSE = {"false", "0", "no", "n", "non", "nein"}
_url = URLValidator(schemes=["http", "https"])


class CellError(Exception):
    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.code = code


@dataclass
class Issue:
    """One problem of a row: in which column, for which field, what and its code."""

    message: str
    code: str
    column: str = ""
    field: str = ""


@dataclass
class Row:
    number: int
    cells: list
    values: dict[str, Any] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)  # cells left out of the row
    outcome: str = ""  # created, updated, unchanged, skipped or failed
    record_id: int | None = None  # the matched record (update) or the new one (create)
    changes: dict[str, Any] = field(default_factory=dict)  # field → new value (update)
    old: dict[str, Any] = field(default_factory=dict)  # the stored values before the update
    version: int = 0  # the stored version the update expects

    def fail(self, message: str, code: str, column: str = "", field_name: str = "") -> None:
        self.issues.append(Issue(message, code, column, field_name))
        self.outcome = "failed"

    def warn(self, message: str, code: str, column: str = "", field_name: str = "") -> None:
        self.warnings.append(Issue(message, code, column, field_name))


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else cell_text(value)
    text = text.strip()
    if text.startswith("'") and formula_like(text[1:]):
        text = text[1:]
    return text


def _max(text: str, target: Target) -> str:
    if target.max_length and len(text) > target.max_length:
        raise CellError(f"At most {target.max_length} characters (has {len(text)})", "too_long")
    return text


def parse_decimal(text: str) -> Decimal:
    """1234.5, 1,234.50, 1.234,50, 1 234,50, €12 … (the last separator followed by one or
    two digits is the decimal one)."""
    text = _MONEY_JUNK.sub("", text)
    if "," in text and "." in text:
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif "," in text:
        whole, _, frac = text.rpartition(",")
        text = f"{whole.replace(',', '')}.{frac}" if len(frac) in (1, 2) else text.replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CellError("Not a number", "invalid_number")
    if not number.is_finite():
        raise CellError("Not a number", "invalid_number")
    return number


def _money(value: Any, target: Target) -> Decimal:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = Decimal(str(value))
    else:
        number = parse_decimal(_text(value))
    if number < 0:
        raise CellError("Must not be negative", "negative")
    if number >= MAX_MONEY:
        raise CellError("Too large", "too_large")
    return number.quantize(Decimal("0.01"))


def _quantity(value: Any, target: Target) -> Decimal:
    number = _money(value, target)
    if number <= 0:
        raise CellError("Must be greater than 0", "invalid_quantity")
    return number


def _percent(value: Any, target: Target) -> int:
    if isinstance(value, float) and 0 < value < 1:
        number = Decimal(str(value)) * 100  # a spreadsheet cell formatted as a percentage
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = Decimal(str(value))
    else:
        try:
            number = Decimal(_text(value).rstrip("%").strip())
        except InvalidOperation:
            raise CellError("Not a percentage", "invalid_number")
    if not number.is_finite() or number != number.to_integral_value() or not 0 <= number <= 100:
        raise CellError("A whole number from 0 to 100", "out_of_range")
    return int(number)


def _date(value: Any, target: Target) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = _text(value).replace("/", "-")
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        raise CellError("Not a date: write it as YYYY-MM-DD", "invalid_date")


def _datetime(value: Any, target: Target) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime.combine(value, datetime.time())
    else:
        text = _text(value)
        try:
            moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise CellError(
                "Not a date-time: write it as YYYY-MM-DD or YYYY-MM-DD HH:MM", "invalid_datetime"
            )
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _bool(value: Any, target: Target) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError("Not yes/no (true/false, 1/0)", "invalid_boolean")


def _choice(value: Any, target: Target) -> str:
    text = _text(value)
    for choice in target.choices:
        if text.lower() == choice.lower():
            return choice
    raise CellError(f"Must be one of {', '.join(target.choices)}", "invalid_choice")


def _country(value: Any, target: Target) -> str:
    # A code (DE, DEU) or an exact English name ("Germany"): never the first two letters.
    try:
        return country_code(_text(value))
    except ValidationError:
        raise CellError("A country name or its ISO code (Germany, DE, GB, US …)", "invalid_country")


def _currency(value: Any, target: Target) -> str:
    try:
        return currency_code(_text(value))
    except ValidationError:
        raise CellError("A currency name or its ISO code (EUR, USD, Euro …)", "invalid_currency")


def _url_value(value: Any, target: Target) -> str:
    text = _max(_text(value), target)
    if "://" not in text:
        text = f"https://{text}"
    try:
        _url(text)
    except ValidationError:
        raise CellError("Not a web address", "invalid_url")
    return _max(text, target)


_FAST_LOCAL = re.compile(r"[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*")
_FAST_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_SPECIAL_DOMAINS = tuple(SPECIAL_USE_DOMAIN_NAMES)
_SPECIAL_SUFFIXES = tuple("." + d for d in SPECIAL_USE_DOMAIN_NAMES)


def fast_email(text: str) -> str | None:
    """email-validator's normalised form of a plain ASCII address (the vast majority), ten
    times faster; None when the address needs the full validator (or is invalid). The
    test suite checks both agree."""
    local, at, domain = text.rpartition("@")
    if not at or len(text) > 254 or len(local) > 64 or "xn--" in domain.lower():
        return None
    domain = domain.lower()
    if not _FAST_LOCAL.fullmatch(local) or not _FAST_DOMAIN.fullmatch(domain):
        return None
    if domain in _SPECIAL_DOMAINS or domain.endswith(_SPECIAL_SUFFIXES):
        return None
    return f"{local}@{domain}"


def _email(value: Any, target: Target) -> str:
    text = _text(value)
    fast = fast_email(text)
    if fast is not None:
        return fast
    try:
        return email_normalise(text)
    except ValidationError as exc:
        message = exc.message_dict.get("email", ["Not a valid email address"])[0]
        raise CellError(message, "invalid_email")


def _id(value: Any, target: Target) -> int:
    text = _text(value)
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise CellError("Not an id (a positive whole number)", "invalid_id")
    return int(text)


def _plain(value: Any, target: Target) -> str:
    return _max(_text(value), target)


def _tags(value: Any, target: Target) -> list[str]:
    names = sorted({t.strip()[:60] for t in re.split(r"[;,]", _text(value)) if t.strip()})
    return names


def _full_name(value: Any, target: Target) -> tuple[str, str]:
    text = " ".join(_text(value).split())
    first, _, last = text.rpartition(" ")
    if len(first) > 100 or len(last) > 100:
        raise CellError("A name part is longer than 100 characters", "too_long")
    return first, last


_OPT_IN = {"in", "opt_in", "opt-in", "optin", "yes", "y", "true", "1", "subscribed"}
_OPT_OUT = {"out", "opt_out", "opt-out", "optout", "no", "n", "false", "0", "unsubscribed"}


def _consent(value: Any, target: Target) -> list[tuple[str, str]]:
    """ "newsletter:in; offers:out" → [("newsletter", "opt_in"), ("offers", "opt_out")]: the
    purpose by its slug (or name), the answer as in/out, yes/no, opt_in/opt_out."""
    pairs = []
    for part in re.split(r"[;,]", _text(value)):
        if not part.strip():
            continue
        purpose, sep, answer = part.replace("=", ":").partition(":")
        purpose, answer = purpose.strip(), answer.strip().lower()
        if not sep or not purpose:
            raise CellError(
                f"Write the consent as purpose:in or purpose:out (got {part.strip()!r})",
                "invalid_consent",
            )
        if answer in _OPT_IN:
            action = "opt_in"
        elif answer in _OPT_OUT:
            action = "opt_out"
        else:
            raise CellError(
                f"Unknown consent answer {answer!r} for {purpose}: use in or out", "invalid_consent"
            )
        pairs.append((purpose, action))
    # The purposes are checked by the importer (this reader runs off the database thread).
    return pairs


READERS = {
    "text": _plain,
    "email": _email,
    "phone": _plain,  # normalised once the row's country is known (see RowReader)
    "url": _url_value,
    "country": _country,
    "currency": _currency,
    "money": _money,
    "quantity": _quantity,
    "percent": _percent,
    "date": _date,
    "datetime": _datetime,
    "bool": _bool,
    "choice": _choice,
    "id": _id,
    "tags": _tags,
    "full_name": _full_name,
    "owner": _plain,
    "consent": _consent,
}


def phone_e164(text: str, region: str | None) -> str:
    """E.164 of a number (accounts.contact_methods.phone_e164, as for the forms and the
    API); without a country code the row's country (or the default region) says where."""
    try:
        return contact_phone_e164(text, region)
    except PhoneProblem as exc:
        raise CellError(str(exc), "invalid_phone")


def _custom(value: Any, target: Target):
    definition = target.custom
    if definition.field_type == FieldType.MULTI_CHOICE:
        value = [v.strip() for v in re.split(r"[;,]", _text(value)) if v.strip()]
    elif definition.field_type == FieldType.DATE:
        value = _date(value, target)
    elif not isinstance(value, bool | int | float):
        value = _text(value)
    try:
        return custom_value_clean(definition, value)
    except ValueError as exc:
        raise CellError(f"{definition.label} {exc}", "invalid")


PHONE_CACHE_SIZE = 200_000
CELL_CACHE_SIZE = 50_000
# Readers that are pure functions of a text cell and return an immutable value.
_CACHED_READERS = {_plain, _country, _currency, _choice, _bool, _full_name}
_MISS = object()


class _Refused(NamedTuple):
    """A cell's error, kept for the next cell with the same text."""

    message: str
    code: str


class RowReader:
    """Turns the cells of a row into field values with one reader per mapped column."""

    def __init__(
        self,
        *,
        headers: list[str],
        mapping: dict,
        targets: dict[str, Target],
        pad: bool = False,
        strict: bool = False,
    ):
        # XLSX rows end at their last filled cell: `pad` fills them up to the header's width.
        self.width = len(headers)
        self.pad = pad
        # Not strict: a phone that cannot be read is left out of its row, with a warning.
        self.strict = strict
        self.columns: list[tuple[int, str, Target, Any]] = []
        # Columns of few distinct values (names, cities, companies, countries, owners …):
        # each distinct text cell is read once per run; its value or its error is kept.
        self._cells: dict[int, dict] = {}
        for index, header in enumerate(headers):
            key = mapping.get(header)
            if key:
                target = targets[key]
                reader = _custom if target.custom is not None else READERS[target.kind]
                self.columns.append((index, header, target, reader))
                if target.custom is None and reader in _CACHED_READERS and target.kind != "phone":
                    self._cells[index] = {}
        self.column_of = {target.key: header for _, header, target, _ in self.columns}
        # phonenumbers costs ~50 µs a number: each distinct (text, country) of the file is
        # parsed once (switchboards, repeated rows, reruns), refusals included. Per reader,
        # i.e. per import run, so a settings change (the default region) is never missed.
        self._phones: dict[tuple[str, str | None], str | tuple[str, str]] = {}

    def _phone(self, text: str, region: str | None) -> str:
        key = (text, region)
        known = self._phones.get(key)
        if known is None:
            try:
                known = phone_e164(text, region)
            except CellError as exc:
                known = (str(exc), exc.code)  # a new exception per row, not one reraised
            if len(self._phones) >= PHONE_CACHE_SIZE:
                self._phones.clear()
            self._phones[key] = known
        if isinstance(known, tuple):
            raise CellError(*known)
        return known

    def read(self, number: int, cells: list) -> Row | None:
        """The row's values and issues; None for a blank row (skipped silently)."""
        row = Row(number=number, cells=cells)
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            return None
        if self.pad and len(cells) < self.width:
            cells = row.cells = cells + [None] * (self.width - len(cells))
        if len(cells) != self.width:
            row.fail(
                f"The row has {len(cells)} cells but the header has {self.width} columns",
                "ragged_row",
            )
            return row
        values = row.values
        cached = self._cells
        for index, header, target, reader in self.columns:
            value = cells[index]
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            cache = cached.get(index) if type(value) is str else None
            if cache is not None:
                known = cache.get(value, _MISS)
                if known is _MISS:
                    try:
                        known = reader(value, target)
                    except CellError as exc:
                        known = _Refused(str(exc), exc.code)
                    if len(cache) >= CELL_CACHE_SIZE:
                        cache.clear()
                    cache[value] = known
                if type(known) is _Refused:
                    row.fail(known.message, known.code, header, target.key)
                else:
                    values[target.key] = known
                continue
            try:
                values[target.key] = reader(value, target)
            except CellError as exc:
                row.fail(str(exc), exc.code, header, target.key)
        self._finish(row)
        return row

    def _finish(self, row: Row) -> None:
        values = row.values
        if "phone" in values:
            try:
                values["phone"] = self._phone(values["phone"], values.get("country"))
            except CellError as exc:
                bad = values.pop("phone")
                if self.strict:
                    row.fail(str(exc), exc.code, self.column_of["phone"], "phone")
                else:
                    message = f"{exc} — imported without the phone {bad[:40]!r}"
                    row.warn(message, exc.code, self.column_of["phone"], "phone")
        if "full_name" in values:
            first, last = values.pop("full_name")
            values.setdefault("first_name", first)
            values.setdefault("last_name", last)
        custom = {k[7:]: values.pop(k) for k in [k for k in values if k.startswith("custom.")]}
        if custom:
            values["custom"] = custom
