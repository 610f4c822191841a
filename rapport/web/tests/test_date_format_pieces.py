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


def test_datetimes_written_once_read_back_the_same_for_each_zone_locale_and_setting(settings):
    """`_format` keeps what it wrote for a datetime: asked again (in any order of locales and
    zones) it returns what Django writes; the same instant in two zones is two texts, and a
    changed format setting is seen at once."""
    new_york = zoneinfo.ZoneInfo("America/New_York")
    instant = datetime.datetime(2026, 3, 29, 12, 0, tzinfo=datetime.UTC)
    values = [instant, instant.astimezone(PARIS), instant.astimezone(new_york), *VALUES[2:]]
    for _ in range(2):
        for language in ("en", "de", "fr", "en-gb"):
            token = dates._locale.set(language)
            try:
                for value in values:
                    with translation.override(language):
                        expected = formats.date_format(value, "SHORT_DATETIME_FORMAT")
                    assert dates._format(value, "SHORT_DATETIME_FORMAT") == expected, (
                        language,
                        value,
                    )
            finally:
                dates._locale.reset(token)
    token = dates._locale.set("de")
    try:
        texts = {dates._format(v, "SHORT_DATETIME_FORMAT") for v in values[:3]}
        assert len(texts) == 3  # one instant, three zones
        settings.FORMAT_MODULE_PATH = None
        settings.USE_THOUSAND_SEPARATOR = False  # any change empties what was kept
        assert dates._WRITTEN == {}
    finally:
        dates._locale.reset(token)
