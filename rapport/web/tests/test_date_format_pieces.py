"""`rapport.web.dates` formats dates with the format string's split cached (`_date_format`):
the text must be what Django's `formats.date_format` writes, in every locale Django has
formats for, for dates and for times around midnight, noon, a.m. and p.m., aware and naive."""

import datetime
import zoneinfo
from pathlib import Path

import django
import pytest
from django.utils import formats, translation

from rapport.web import dates

LOCALES = sorted(
    path.parent.name.replace("_", "-").lower()
    for path in Path(django.__file__).parent.glob("conf/locale/*/formats.py")
)
NAMES = ["SHORT_DATE_FORMAT", "SHORT_DATETIME_FORMAT", "DATE_FORMAT", "DATETIME_FORMAT"]
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
VALUES = [
    datetime.date(2026, 1, 5),
    datetime.date(2026, 12, 31),
    datetime.datetime(2026, 3, 29, 0, 0, tzinfo=PARIS),
    datetime.datetime(2026, 3, 29, 12, 0, tzinfo=PARIS),
    datetime.datetime(2026, 7, 4, 9, 5, 7, tzinfo=datetime.UTC),
    datetime.datetime(2026, 11, 1, 23, 59, tzinfo=PARIS),
    datetime.datetime(2026, 2, 28, 14, 30),
]


def test_every_locale_of_django_is_covered():
    assert len(LOCALES) > 80 and "en" in LOCALES and "de" in LOCALES


def _outcome(write, value, name):
    """The text written, or the error raised (a plain date in a format with a time)."""
    try:
        return write(value, name)
    except TypeError as exc:
        return ("TypeError", str(exc))


@pytest.mark.parametrize("language", LOCALES)
def test_cached_split_writes_what_django_writes(language):
    with translation.override(language):
        for name in NAMES:
            for value in VALUES:
                ours = _outcome(dates._date_format, value, name)
                assert ours == _outcome(formats.date_format, value, name), (name, value)
                if name.startswith("SHORT") and "DATETIME" in name:
                    assert isinstance(ours, str) == (type(value) is not datetime.date)


def test_a_time_character_on_a_plain_date_is_refused_like_django(settings):
    settings.SHORT_DATE_FORMAT = "Y-m-d H:i"
    with translation.override(None), pytest.raises(TypeError):
        formats.date_format(datetime.date(2026, 1, 5), "SHORT_DATE_FORMAT")
    with translation.override(None), pytest.raises(TypeError):
        dates._date_format(datetime.date(2026, 1, 5), "SHORT_DATE_FORMAT")
