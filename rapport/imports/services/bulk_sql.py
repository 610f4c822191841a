"""Fast multi-row inserts for the importers.

Django's `bulk_create` spends most of its time compiling SQL (on SQLite, one statement per
~40 rows, every value prepared through the field and the compiler): at 100k contacts that
is over half of an import. Here each column's conversion is chosen once, values of the
common types (text, integers, foreign keys, booleans) pass through untouched, and the rows
go in with one prepared statement:
- SQLite: `executemany`; the ids are consecutive (the table's AUTOINCREMENT key, while
  this transaction holds SQLite's only write lock) and checked;
- PostgreSQL: ids reserved from the table's sequence, then `COPY`;
- anything else: `bulk_create`.
Only the database's own constraints and triggers apply (the search index triggers
included), exactly as with `bulk_create`; the importers validate before.
"""

import datetime
import json
from collections.abc import Callable
from typing import Any

from django.db import connections, models, router
from django.utils import timezone

_PASS_THROUGH = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BigIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.SmallIntegerField,
    models.BooleanField,
    models.ForeignKey,
)


class BulkInsert:
    """Inserts dicts of {attname: python value} into `model`'s table; missing columns take
    the field's default, auto_now(_add) columns the time of the insert."""

    def __init__(self, model: type[models.Model]):
        self.model = model
        self.using = router.db_for_write(model)
        self.connection = connections[self.using]
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.table = model._meta.db_table
        self.pk_column = model._meta.pk.column

    def _converters(self) -> list[tuple[str, Callable[[Any], Any], Any]]:
        """(attname, convert, default) per column; defaults already converted."""
        connection = self.connection
        now = timezone.now()
        out = []
        for field in self.fields:
            if isinstance(field, _PASS_THROUGH) and not isinstance(field, models.JSONField):
                convert = _identity
            else:
                convert = _prep(field, connection)
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                default = convert(now)
            elif field.has_default():
                default = convert(field.get_default())
            elif field.null:
                default = None
            elif isinstance(field, models.CharField | models.TextField):
                default = ""
            else:
                default = _MISSING
            out.append((field.attname, convert, default))
        return out

    def insert(self, rows: list[dict[str, Any]], *, ids: bool = False) -> list[int] | None:
        """Insert the rows in one statement; with `ids`, return their new ids in order."""
        if not rows:
            return [] if ids else None
        build = self._row_builder()
        params = [build(row) for row in rows]
        vendor = self.connection.vendor
        if vendor == "sqlite":
            return self._sqlite(params, ids)
        if vendor == "postgresql":
            return self._postgresql(params, ids)
        return self._fallback(rows, ids)

    def _row_builder(self) -> Callable[[dict[str, Any]], tuple]:
        """One function turning a row dict into the statement's values, compiled once per
        insert: a pass-through column is one `row.get(name, default)`, a converted one calls
        its conversion for a value that is not None, a column without default needs a
        value. (A loop over the columns per row cost a third of an import's row writing.)"""
        env: dict[str, Any] = {"_M": _MISSING, "_need": self._need}
        parts = []
        for i, (attname, convert, default) in enumerate(self._converters()):
            env[f"d{i}"] = default
            name = repr(attname)
            if convert is _identity:
                if default is _MISSING:
                    parts.append(f"_need(get({name}, _M), {name})")
                else:
                    parts.append(f"get({name}, d{i})")
            else:
                env[f"c{i}"] = convert
                if default is _MISSING:
                    parts.append(f"_conv(c{i}, _need(get({name}, _M), {name}))")
                else:
                    parts.append(f"_conv_default(c{i}, get({name}, _M), d{i})")
        env["_conv"] = _conv
        env["_conv_default"] = _conv_default
        source = f"def build(row):\n    get = row.get\n    return ({', '.join(parts)},)\n"
        exec(source, env)  # noqa: S102 - the source is built from the model's own field names
        return env["build"]

    def _need(self, value, attname: str):
        if value is _MISSING:
            raise ValueError(f"{self.table}.{attname} needs a value")
        return value

    def insert_objects(self, objs: list[models.Model]) -> None:
        """`bulk_create` for unsaved instances of the model, without the ORM's per-value SQL
        compilation: their column values go in through `insert`, and each instance gets its
        new pk (auto_now(_add) columns left empty take the time of the insert, as
        `bulk_create` gives them). No signals, like `bulk_create`."""
        if not objs:
            return
        auto = {
            f.attname
            for f in self.fields
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        }
        attnames = [f.attname for f in self.fields]
        rows = []
        for obj in objs:
            values = obj.__dict__
            row = {name: values[name] for name in attnames if name in values}
            for name in auto:
                if row.get(name) is None:
                    row.pop(name, None)
            rows.append(row)
        ids = self.insert(rows, ids=True)
        now = None
        for obj, pk in zip(objs, ids, strict=True):
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = self.using
            for name in auto:
                if getattr(obj, name) is None:
                    now = now or timezone.now()
                    setattr(obj, name, now)

    def _columns(self, quote) -> str:
        return ", ".join(quote(f.column) for f in self.fields)

    def _sqlite(self, params: list[list], ids: bool) -> list[int] | None:
        quote = self.connection.ops.quote_name
        placeholders = ", ".join("?" for _ in self.fields)
        sql = f"INSERT INTO {quote(self.table)} ({self._columns(quote)}) VALUES ({placeholders})"  # noqa: S608
        with self.connection.cursor() as cursor:
            raw = cursor.cursor  # the sqlite3 cursor: no per-call query rewriting
            raw.execute(sql, params[0])
            first = raw.lastrowid
            if len(params) > 1:
                raw.executemany(sql, params[1:])
            if not ids:
                return None
            last = first + len(params) - 1
            raw.execute(
                f"SELECT COUNT(*) FROM {quote(self.table)} WHERE {quote(self.pk_column)} "  # noqa: S608
                "BETWEEN ? AND ?",
                (first, last),
            )
            if raw.fetchone()[0] != len(params):  # never seen: ids were not consecutive
                raise RuntimeError(f"{self.table}: new ids are not consecutive")
            return list(range(first, last + 1))

    def _postgresql(self, params: list[list], ids: bool) -> list[int] | None:
        quote = self.connection.ops.quote_name
        columns = self._columns(quote)
        with self.connection.cursor() as cursor:
            new_ids: list[int] = []
            if ids:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [self.table, self.pk_column, len(params)],
                )
                new_ids = [r[0] for r in cursor.fetchall()]
                columns = f"{quote(self.pk_column)}, {columns}"
                params = [[pk, *values] for pk, values in zip(new_ids, params, strict=True)]
            with cursor.cursor.copy(f"COPY {quote(self.table)} ({columns}) FROM STDIN") as copy:
                for values in params:
                    copy.write_row(values)
            return new_ids if ids else None

    def _fallback(self, rows: list[dict[str, Any]], ids: bool) -> list[int] | None:
        objs = [self.model(**row) for row in rows]
        self.model._base_manager.using(self.using).bulk_create(objs)
        return [o.pk for o in objs] if ids else None


class _Missing:
    pass


_MISSING = _Missing()


def _identity(value):
    return value


def _conv(convert, value):
    return value if value is None else convert(value)


def _conv_default(convert, value, default):
    if value is _MISSING:
        return default
    return value if value is None else convert(value)


def _prep(field: models.Field, connection) -> Callable[[Any], Any]:
    """The field's own conversion, remembering the last value: rows of a batch often share
    the very same object (one timestamp, one event payload), converted once then."""
    last: list = [_MISSING, None]
    as_text = _copy_text if connection.vendor == "postgresql" else _identity

    def convert(value):
        if value is last[0]:
            return last[1]
        converted = as_text(field.get_db_prep_save(value, connection))
        last[0], last[1] = value, converted
        return converted

    return convert


def _copy_text(value):
    """PostgreSQL: a JSON document or a time as the text COPY reads, made once for the rows
    sharing the value (psycopg would dump the same payload or time again for every row)."""
    if isinstance(value, datetime.date):  # datetimes too: isoformat keeps the offset
        return value.isoformat()
    obj = getattr(value, "obj", _MISSING)
    if obj is not _MISSING and hasattr(value, "dumps"):  # psycopg's Json / Jsonb wrapper
        return (value.dumps or json.dumps)(obj)
    return value


_UNIT = "\x1f"  # the unit separator: in no email, phone or name the import matches on


def _in_sql(column: str, values: list, vendor: str) -> tuple[str, list]:
    """`column` is one of `values`, as SQL with ONE parameter: an array on PostgreSQL, a JSON
    list read by json_each on SQLite (a batch looks up thousands of keys: one placeholder
    per key costs more to send and plan than the lookup, and older SQLite builds allow
    only 999 of them)."""
    if vendor == "postgresql":
        if all(type(v) is str and v and _UNIT not in v for v in values):
            # Text keys (a batch's emails and phones) as one string split by the server:
            # psycopg builds a text array element by element in Python.
            return f"{column} = ANY(string_to_array(%s, chr(31)))", [_UNIT.join(values)]
        return f"{column} = ANY(%s)", [values]
    if vendor == "sqlite":
        return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(values)]  # noqa: S608
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


def pairs_where_in(sql: str, column: str, values, *, using: str = "default") -> list[tuple]:
    """Run `sql` (a SELECT with a `{where}` placeholder) for the rows whose `column` is one
    of `values`."""
    values = list(values)
    if not values:
        return []
    connection = connections[using]
    where, params = _in_sql(column, values, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql.format(where=where), params)
        return cursor.fetchall()


class _OneOf(models.Func):
    """A filter: the expression is one of `values`, sent as one parameter (see _in_sql)."""

    output_field = models.BooleanField()

    def __init__(self, expression, values: list):
        super().__init__(expression)
        self.values = values

    def as_sql(self, compiler, connection, **extra):
        lhs, params = compiler.compile(self.source_expressions[0])
        sql, more = _in_sql(lhs, self.values, connection.vendor)
        return sql, (*params, *more)


def where_in(field: str, values) -> models.Q:
    """`field__in=values` as a filter, with the values in one parameter."""
    return models.Q(_OneOf(models.F(field), list(values)))
