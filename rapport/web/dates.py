"""Dates and times on every page in one format: the short numeric format of the user's
locale (the browser's Accept-Language), e.g. 05/12/2026 14:30 for en-GB, 12/05/2026
2:30 p.m. for en-US, 05.12.2026 14:30 for de — in the server's time zone.

`DateLocaleMiddleware` picks the locale once per request; `format_day` / `format_moment`
(template filters `day` / `moment`) are the only ways pages print a date. Numeric formats
keep the UI's words English whatever the locale (no translated month names).
"""

import datetime
import functools
from contextvars import ContextVar
from importlib import import_module

from django.conf import settings
from django.core.signals import setting_changed
from django.utils import dateformat, formats, timezone, translation
from django.utils.translation.trans_real import parse_accept_lang_header

_locale: ContextVar[str | None] = ContextVar("date_locale", default=None)


@functools.cache
def _has_formats(language: str) -> bool:
    try:
        import_module(f"django.conf.locale.{translation.to_locale(language)}.formats")
    except ImportError:
        return False
    return True


def locale_from_header(header: str) -> str:
    """The first language of an Accept-Language header that Django has formats for
    ("de-CH" → "de-ch", else its "de"); the site's LANGUAGE_CODE otherwise."""
    for language, _q in parse_accept_lang_header(header or "")[:8]:
        language = language.lower()
        if language == "*":
            continue
        for candidate in (language, language.split("-")[0]):
            if _has_formats(candidate):
                return candidate
    return settings.LANGUAGE_CODE


class DateLocaleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _locale.set(locale_from_header(request.headers.get("Accept-Language", "")))
        try:
            return self.get_response(request)
        finally:
            _locale.reset(token)


@functools.lru_cache(maxsize=128)
def _pieces(format_string: str) -> tuple[tuple[bool, str], ...]:
    """A date format string split once into (is a format character, text) pieces, exactly as
    Django's `dateformat.Formatter.format` splits it on every call (the regex split and the
    unescaping of literals were more than half of the CPU of formatting a date)."""
    pieces = []
    for i, piece in enumerate(dateformat.re_formatchars.split(format_string)):
        if i % 2:
            pieces.append((True, piece))
        elif piece:
            pieces.append((False, dateformat.re_escaped.sub(r"\1", piece)))
    return tuple(pieces)


def _date_format(value, name: str) -> str:
    """`formats.date_format(value, name)` with the format string's split cached: the same
    `DateFormat` methods called in the same order, so the same text (test_one_date_format.py
    compares them in every locale Django has formats for). A plain date with a time format
    character goes to Django, which refuses it."""
    format_string = str(formats.get_format(name))
    pieces = _pieces(format_string)
    if type(value) is datetime.date and any(
        char and hasattr(dateformat.TimeFormat, p) for char, p in pieces
    ):
        return dateformat.format(value, format_string)
    df = dateformat.DateFormat(value)
    return "".join(str(getattr(df, p)()) if char else p for char, p in pieces)


# Datetimes already written, by (wall time, zone, fold, format name, locale): a list shows
# the same due times and dates on every reload (the workspace's 50 due times were ~15% of
# its CPU). The wall time and the zone are both in the key (aware datetimes equal in UTC
# hash alike whatever their zone); a changed setting (a format, the time zone) empties it,
# as it does Django's own format cache. Bounded: emptied when full.
_WRITTEN: dict[tuple, str] = {}
_WRITTEN_MAX = 4096


def _forget_written(**kwargs) -> None:
    _WRITTEN.clear()


setting_changed.connect(_forget_written)


def _format(value, name: str) -> str:
    language = _locale.get() or settings.LANGUAGE_CODE
    key = None
    if type(value) is datetime.datetime:
        key = (value.replace(tzinfo=None), value.tzinfo, value.fold, name, language)
        text = _WRITTEN.get(key)
        if text is not None:
            return text
    if language == translation.get_language():
        # The request's locale is already the active language (the default one, English):
        # no override to enter and leave for every date of the page (a list of 50 dates
        # spent ~1 ms of CPU in translation.override alone).
        text = _date_format(value, name)
    else:
        with translation.override(language):
            text = _date_format(value, name)
    if key is not None:
        if len(_WRITTEN) >= _WRITTEN_MAX:
            _WRITTEN.clear()
        _WRITTEN[key] = text
    return text


def _as_date(value) -> datetime.date | None:
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value if isinstance(value, datetime.date) else None


def format_day(value) -> str:
    """A date (or the local day of a datetime, or an ISO string) in the user's format."""
    day = _as_date(value)
    return _format(day, "SHORT_DATE_FORMAT") if day else ""


def format_moment(value) -> str:
    """A datetime (or ISO string) in the user's date-and-time format, local time; a plain
    date falls back to `format_day`."""
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            return ""
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return _format(value, "SHORT_DATETIME_FORMAT")
    return format_day(value)
