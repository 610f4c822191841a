"""The one range every stored date and time must fall in: years 1900 to 2200.

PostgreSQL stores years up to 294276 and back to 4713 BC, but Python's datetime stops at
9999 and at year 1: a row written as `9999-12-31T23:59:59-05:00` (year 10000 in UTC) or
`0001-01-01T00:00:00+01:00` (1 BC) cannot be read back, and every page or export that
touches it fails. So the range is checked where models are validated (`clean_fields`, which
every service calls before writing, for the API and the pages alike), and
`dates_out_of_range` finds rows stored before the check (migration `api.0002`, command
`check_dates`).
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import connections, models

FIRST_YEAR = 1900
LAST_YEAR = 2200
LOWEST = datetime.datetime(FIRST_YEAR, 1, 1, tzinfo=datetime.UTC)
HIGHEST = datetime.datetime(LAST_YEAR, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)


def date_in_range(value) -> bool:
    """True for None and for dates and times whose year (as written) is 1900–2200."""
    if not isinstance(value, datetime.date):
        return True
    return FIRST_YEAR <= value.year <= LAST_YEAR


def out_of_range() -> ValidationError:
    return ValidationError(
        f"must be between the years {FIRST_YEAR} and {LAST_YEAR}", code="out_of_range"
    )


def check_date_range(value, field: str) -> None:
    if not date_in_range(value):
        raise ValidationError({field: [out_of_range()]})


class SaneDates:
    """Model mixin: `clean_fields` also refuses dates and times outside 1900–2200."""

    def clean_fields(self, exclude=None):
        errors = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        for field in self._meta.concrete_fields:
            if field.name in (exclude or ()) or field.name in errors:
                continue
            if isinstance(field, models.DateField) and not date_in_range(
                getattr(self, field.attname)
            ):
                errors[field.name] = [out_of_range()]
        if errors:
            raise ValidationError(errors)


def _date_columns(model_list):
    for model in model_list:
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.DateField):  # DateTimeField is a DateField
                yield model, field


def dates_out_of_range(model_list, *, fix: bool = False, using: str = "default") -> list[str]:
    """Report (and with `fix`, clamp to the nearest bound) every stored date or time outside
    the range. Raw SQL (table and column names come from the models, quoted): the ORM
    cannot even read such a row on PostgreSQL."""
    conn = connections[using]
    report = []
    with conn.cursor() as cursor:
        for model, field in _date_columns(model_list):
            table = conn.ops.quote_name(model._meta.db_table)
            column = conn.ops.quote_name(field.column)
            pk = conn.ops.quote_name(model._meta.pk.column)
            is_time = isinstance(field, models.DateTimeField)
            low = LOWEST if is_time else LOWEST.date()
            high = HIGHEST if is_time else HIGHEST.date()
            if conn.vendor == "sqlite":
                # Stored as ISO text; a negative or 5-digit year never sorts inside the range.
                low_sql, high_sql = str(low).replace("+00:00", ""), str(high).replace("+00:00", "")
            else:
                low_sql, high_sql = low, high
            cursor.execute(
                f"SELECT {pk} FROM {table} WHERE {column} < %s OR {column} > %s",  # noqa: S608
                [low_sql, high_sql],
            )
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                continue
            report.append(
                f"{model._meta.label}.{field.name}: {len(ids)} row(s) out of range, ids "
                f"{', '.join(map(str, ids[:20]))}{' …' if len(ids) > 20 else ''}"
            )
            if fix:
                cursor.execute(
                    f"UPDATE {table} SET {column} = %s WHERE {column} < %s",  # noqa: S608
                    [low_sql, low_sql],
                )
                cursor.execute(
                    f"UPDATE {table} SET {column} = %s WHERE {column} > %s",  # noqa: S608
                    [high_sql, high_sql],
                )
    return report
