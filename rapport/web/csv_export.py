"""The list pages' export (CSV or XLSX) of the current filter: the list's columns under
their labels, written by rapport.records.export, the writer of /api/exports, so both
faces neutralise spreadsheet formulas the same way and stream in constant memory. The
rows come from the list's selector: only records the user sees."""

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from rapport.records.export import csv_response, xlsx_response
from rapport.records.export import csv_text as csv_safe  # noqa: F401 - the cell text CSV gets

FORMATS = ("csv", "xlsx")


def _value(column, row) -> Any:
    """The cell as data (numbers, dates stay typed for XLSX; the writer formats CSV)."""
    value = column.csv(row) if column.csv else column.raw(row)
    if column.kind == "tags":
        return ", ".join(value or ())
    return value


def list_export_response(*, config, records: Iterable, file_format: str = "csv"):
    """Stream `records` (already filtered, visible and ordered) with every column of the
    list `config`, as CSV or as an XLSX attachment."""
    header = ["ID"] + [c.label for c in config.columns]
    rows = ([r.pk] + [_value(c, r) for c in config.columns] for r in records)
    filename = f"{config.plural.lower()}-{timezone.localdate().isoformat()}"
    if file_format == "xlsx":
        return xlsx_response(f"{filename}.xlsx", header, rows)
    return csv_response(f"{filename}.csv", header, rows)
