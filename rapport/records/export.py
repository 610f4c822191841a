"""Exports of any filtered list to CSV or XLSX: only the records the user sees (through
the same list selectors as the API), in constant memory, with spreadsheet formulas
neutralised.

Text a spreadsheet could evaluate as a formula (OWASP "CSV injection") is neutralised:
text beginning with = + - or @ (also after leading spaces, and in their full-width forms
＝ ＋ － ＠), or with a tab, carriage return or line feed. A value that is only a number
or an E.164 phone number (-5, +49305550999) is not a formula and is written as it is.
In CSV such text gets a leading single quote, which the importer drops again, so an
exported file imports back unchanged; in XLSX every string is a string cell (never a
formula), formula-like ones also with Excel's "quote prefix" style, and no character is
added. Columns are named as the importer's mapping guesses them (`email`,
`account_name`, `owner`, custom fields by key), so an export is also an import template.

CSV streams while the query is read (`iterator(chunk_size=…)`); XLSX is written by
openpyxl's write-only workbook (rows go to a temporary file, not to memory) and then
streamed from that file. An XLSX sheet holds at most 1,048,576 rows: bigger exports must
be CSV.
"""

import csv
import datetime
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from ninja.errors import HttpError

from rapport.identity.models import User
from rapport.records.models import CustomFieldDefinition
from rapport.records.visibility import shown, with_shown_links

FORMULA_TRIGGERS = frozenset("=+-@")
CONTROL_STARTS = ("\t", "\r", "\n")
# Only a number (sign, digits, grouping or decimal separators, exponent) or an E.164 phone.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)*|[.,]\d+)(?:[eE][+-]?\d+)?")
CHUNK = 2000
XLSX_MAX_ROWS = 1_048_576
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def formula_like(text: str) -> bool:
    """Whether a spreadsheet could take `text` for a formula: it starts with a tab, CR or
    LF, or (after any leading spaces, full-width forms folded by NFKC) with = + - or @ and
    is not just a number or an E.164 phone number."""
    if text.startswith(CONTROL_STARTS):
        return True
    rest = text.lstrip()
    if not rest or unicodedata.normalize("NFKC", rest[0])[:1] not in FORMULA_TRIGGERS:
        return False
    return not _NUMBER.fullmatch(unicodedata.normalize("NFKC", rest))


def cell_safe(value: Any) -> Any:
    """The value for a CSV cell: formula-like text gets a leading quote; numbers, dates,
    booleans and other text are left as they are."""
    if isinstance(value, str) and formula_like(value):
        return "'" + value
    return value


def csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, datetime.date | Decimal | int | float):
        return str(value)
    return str(cell_safe(str(value)))


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """CSV text, line by line: a UTF-8 BOM (Excel then reads accents right), the header,
    the rows; every cell neutralised."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield "\ufeff"
    yield writer.writerow([csv_text(h) for h in header])
    for row in rows:
        yield writer.writerow([csv_text(v) for v in row])


def csv_response(filename: str, header: list[str], rows: Iterable[list[Any]]):
    response = StreamingHttpResponse(
        csv_lines(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, Decimal):
        return float(value) if value == value.quantize(Decimal("0.01")) else str(value)
    if isinstance(value, list | dict):
        return str(value)
    return value


def xlsx_response(filename: str, header: list[str], rows: Iterable[list[Any]]):
    """Write the rows to a temporary XLSX file (write-only mode: constant memory) and
    stream it. More rows than a sheet holds is a 422 before anything is sent."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Export")

    def text_cell(value: Any):
        # Strings are stored as string cells: openpyxl would otherwise write "=…" as a
        # formula. Formula-like ones also get the quote-prefix style, so that editing the
        # cell in Excel keeps it text.
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"
            if formula_like(value):
                cell.quotePrefix = True
        return cell

    sheet.append([text_cell(h) for h in header])
    count = 1
    try:
        for row in rows:
            count += 1
            if count > XLSX_MAX_ROWS:
                raise ValidationError(
                    {
                        "format": [
                            ValidationError(
                                f"More than {XLSX_MAX_ROWS - 1} rows: export as CSV instead",
                                code="too_many_rows",
                            )
                        ]
                    }
                )
            sheet.append([text_cell(_xlsx_value(v)) for v in row])
    except BaseException:
        sheet.close()  # finishes and removes openpyxl's temporary file
        raise
    out = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - FileResponse closes it
    workbook.save(out)
    out.seek(0)
    return FileResponse(out, as_attachment=True, filename=filename, content_type=XLSX_TYPE)


# ----- what each list exports ---------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]


def _attr(name: str) -> Column:
    return Column(name, lambda obj, _n=name: getattr(obj, _n))


def _related(header: str, path: str) -> Column:
    def value(obj):
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                return None
        return obj

    return Column(header, value)


def _linked(header: str, link: str, attr: str) -> Column:
    """A linked record's field, empty when the reader may not see that record (the rows
    come marked by `with_shown_links`)."""

    def value(obj):
        record = shown(obj, link)
        return getattr(record, attr) if record is not None else None

    return Column(header, value)


def _tags() -> Column:
    return Column("tags", lambda obj: ", ".join(sorted(t.name for t in obj.tags.all())))


_ADDRESS = [_attr(n) for n in ("street", "city", "region", "postal_code", "country")]


def _owned_head() -> list[Column]:
    return [_attr("id")]


def _owned_tail(object_type: str) -> list[Column]:
    columns = [
        _related("owner", "owner.username"),
        _attr("team_id"),
        _tags(),
    ]
    for definition in CustomFieldDefinition.objects.filter(object_type=object_type):
        columns.append(
            Column(
                definition.key,
                lambda obj, _k=definition.key: _custom_value(obj.custom.get(_k)),
            )
        )
    columns += [_attr("version"), _attr("created_at"), _attr("updated_at")]
    return columns


def _custom_value(value: Any) -> Any:
    return "; ".join(map(str, value)) if isinstance(value, list) else value


def _plain(queryset: QuerySet, *related: str, prefetch: tuple = ("tags",)) -> QuerySet:
    """The selector's queryset with only what the export reads joined/prefetched."""
    return (
        queryset.select_related("owner", *related)
        .prefetch_related(None)
        .prefetch_related(*prefetch)
    )


@dataclass(frozen=True)
class Export:
    columns: Callable[[], list[Column]]
    queryset: Callable[..., QuerySet]
    rows: Callable[[QuerySet, list[Column]], Iterator[list[Any]]] | None = None


def _rows(queryset: QuerySet, columns: list[Column]) -> Iterator[list[Any]]:
    for obj in queryset.iterator(chunk_size=CHUNK):
        yield [c.value(obj) for c in columns]


def _accounts(user: User, **filters) -> QuerySet:
    from rapport.accounts.selectors import account_list

    return _plain(account_list(user=user, **filters), "parent")


def _account_columns() -> list[Column]:
    return [
        *_owned_head(),
        _attr("name"),
        _attr("website"),
        _attr("domain"),
        _attr("industry"),
        _attr("size"),
        _attr("annual_revenue"),
        _attr("currency"),
        *_ADDRESS,
        *[_attr(f"shipping_{n}") for n in ("street", "city", "region", "postal_code", "country")],
        _linked("parent_account", "parent", "name"),
        _attr("description"),
        *_owned_tail("account"),
    ]


def _contacts(user: User, **filters) -> QuerySet:
    from rapport.accounts.selectors import contact_list

    return _plain(contact_list(user=user, **filters), "account")


def _contact_columns() -> list[Column]:
    return [
        *_owned_head(),
        _attr("first_name"),
        _attr("last_name"),
        _attr("title"),
        _attr("email"),
        _attr("phone"),
        _attr("account_id"),
        _linked("account_name", "account", "name"),
        *_ADDRESS,
        _attr("description"),
        *_owned_tail("contact"),
    ]


def _leads(user: User, **filters) -> QuerySet:
    from rapport.leads.selectors import lead_list

    return _plain(lead_list(user=user, **filters))


def _lead_columns() -> list[Column]:
    return [
        *_owned_head(),
        *[
            _attr(n)
            for n in (
                "first_name",
                "last_name",
                "title",
                "email",
                "phone",
                "company",
                "website",
                "industry",
                "source",
                "campaign",
                "status",
                "disqualified_reason",
            )
        ],
        *_ADDRESS,
        _attr("description"),
        _attr("converted_at"),
        *_owned_tail("lead"),
    ]


def _opportunities(user: User, **filters) -> QuerySet:
    from rapport.sales.selectors import opportunity_list

    return _plain(
        opportunity_list(user=user, **filters), "pipeline", "stage", "account", "primary_contact"
    )


def _opportunity_columns() -> list[Column]:
    return [
        *_owned_head(),
        _attr("name"),
        _attr("account_id"),
        _linked("account_name", "account", "name"),
        _linked("primary_contact_email", "primary_contact", "email"),
        _related("pipeline", "pipeline.name"),
        _related("stage", "stage.name"),
        _related("stage_kind", "stage.kind"),
        _attr("amount"),
        _attr("currency"),
        _attr("probability"),
        _attr("expected_close_date"),
        _attr("closed_at"),
        _attr("source"),
        _attr("lost_reason"),
        _attr("description"),
        *_owned_tail("opportunity"),
    ]


def _orders(user: User, **filters) -> QuerySet:
    from rapport.orders.models import OrderLine
    from rapport.orders.selectors import order_list

    lines = Prefetch("lines", queryset=OrderLine.objects.select_related("product").order_by("id"))
    return with_shown_links(
        order_list(user=user, **filters).prefetch_related(None).prefetch_related(lines),
        user,
        "account",
        "contact",
    )


_ORDER_COLUMNS = [
    "external_id",
    "id",
    "ordered_at",
    "channel",
    "status",
    "currency",
    "total",
    "account_id",
    "account_name",
    "contact_id",
    "contact_email",
    "product_sku",
    "line_description",
    "quantity",
    "unit_price",
]


_ORDER_ACCOUNT_NAME = _linked("account_name", "account", "name")
_ORDER_CONTACT_EMAIL = _linked("contact_email", "contact", "email")


def _order_columns() -> list[Column]:
    return [Column(name, lambda obj: None) for name in _ORDER_COLUMNS]


def _order_rows(queryset: QuerySet, columns: list[Column]) -> Iterator[list[Any]]:
    """One row per order line (the order's columns repeated): the shape the importer reads
    back, consecutive rows of one order making one order."""
    for order in queryset.iterator(chunk_size=CHUNK):
        head = [
            order.external_id,
            order.pk,
            order.ordered_at,
            order.channel,
            order.status,
            order.currency,
            order.total,
            order.account_id,
            _ORDER_ACCOUNT_NAME.value(order),
            order.contact_id,
            _ORDER_CONTACT_EMAIL.value(order),
        ]
        for line in order.lines.all():
            yield [
                *head,
                line.product.sku if line.product_id else None,
                line.description,
                line.quantity,
                line.unit_price,
            ]


def _activities(user: User, **filters) -> QuerySet:
    from rapport.activities.selectors import activity_list

    return with_shown_links(
        activity_list(user=user, **filters).select_related("owner").prefetch_related(None),
        user,
        "account",
        "contact",
        "opportunity",
    )


def _activity_columns() -> list[Column]:
    return [
        _attr("id"),
        _attr("kind"),
        _attr("subject"),
        _attr("occurred_at"),
        _attr("due_at"),
        _attr("priority"),
        _attr("done"),
        _attr("done_at"),
        _attr("direction"),
        _attr("duration_seconds"),
        _attr("outcome"),
        _attr("starts_at"),
        _attr("ends_at"),
        _attr("location"),
        _attr("channel"),
        _attr("external_id"),
        _related("owner", "owner.username"),
        _attr("account_id"),
        _linked("account_name", "account", "name"),
        _attr("contact_id"),
        _linked("contact_email", "contact", "email"),
        _attr("lead_id"),
        _attr("opportunity_id"),
        _linked("opportunity_name", "opportunity", "name"),
        _attr("body"),
        _attr("created_at"),
    ]


EXPORTS: dict[str, Export] = {
    "accounts": Export(_account_columns, _accounts),
    "contacts": Export(_contact_columns, _contacts),
    "leads": Export(_lead_columns, _leads),
    "opportunities": Export(_opportunity_columns, _opportunities),
    "orders": Export(_order_columns, _orders, _order_rows),
    "activities": Export(_activity_columns, _activities),
}


def export_sorted(queryset: QuerySet, sort: str | None, allowed: set[str]) -> QuerySet:
    """The list's order (`sort` as in the API, e.g. -created_at), ties broken by id."""
    if not sort:
        return queryset
    field = sort.lstrip("-")
    if field not in allowed:
        raise HttpError(
            400, f"sort must be one of {', '.join(sorted(allowed))} (prefix - to reverse)"
        )
    descending = sort.startswith("-")
    return queryset.order_by(sort, "-id" if descending else "id")


def export_response(
    *,
    object_type: str,
    user: User,
    file_format: str = "csv",
    sort: str | None = None,
    sortable: set[str] | None = None,
    **filters,
):
    """The response streaming the user's visible, filtered `object_type` list as CSV (or
    an XLSX attachment). `filters` are the list selector's keyword arguments."""
    export = EXPORTS[object_type]
    queryset = export.queryset(user, **filters)
    queryset = export_sorted(queryset, sort, sortable or set())
    columns = export.columns()
    header = [c.header for c in columns]
    rows = (export.rows or _rows)(queryset, columns)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if file_format == "xlsx":
        return xlsx_response(f"{object_type}-{stamp}.xlsx", header, rows)
    return csv_response(f"{object_type}-{stamp}.csv", header, rows)
