"""Reads compiled by the ORM once per process and database (the case page's fixed reads).

The case page runs the same fixed reads on every request (the case by key, the latest page
of its conversation, the pickers' options, its work orders and survey); compiling those
querysets to SQL cost ~5 ms of CPU a page, more than running them. A `Prepared` read builds
its queryset once with sentinel values in place of its arguments, keeps the SQL the ORM
wrote for the connection's backend (so it is the ORM's own SQL on SQLite and PostgreSQL
alike: soft-delete filters, joins and ordering come from the same queryset) and the
compiler that turns rows into values or model instances (converters, `select_related`
populators, annotations); each call only substitutes the arguments and executes.

What a `Prepared` read returns is what its queryset returns (rapport/records/tests/
test_prepared.py and rapport/cases/tests/test_case_page_render.py compare them); it relies on
the ORM compiler API of the pinned Django (`select`, `klass_info`, `annotation_col_map`,
`results_iter`, `get_related_populators`). Only for reads whose shape never changes: a
queryset that depends on the user's role or data (visibility conditions) is not one.
"""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import get_related_populators

# Values no key or size takes: each argument's position among the compiled parameters is
# found by its sentinel.
_SENTINEL_BASE = -(2**62) - 1_000_003
# A datetime argument's sentinel (+ its number in days): no stored or computed instant.
_SENTINEL_INSTANT = datetime.datetime(2, 1, 1, 0, 0, 0, 123_457, tzinfo=datetime.UTC)

KEY, INSTANT, IDS = "key", "instant", "ids"


def _sentinels(kinds: tuple[str, ...]) -> list:
    """What `build` receives for each argument, by its kind: KEY an integer (a key, or a
    string compared with a text column), INSTANT an aware datetime, IDS a list of keys (for
    a one-parameter `IN`, e.g. `= ANY(%s)` or a JSON list)."""
    values: list = []
    for i, kind in enumerate(kinds):
        if kind == INSTANT:
            values.append(_SENTINEL_INSTANT + datetime.timedelta(days=i))
        elif kind == IDS:
            values.append([_SENTINEL_BASE - i])
        else:
            values.append(_SENTINEL_BASE - i)
    return values


def _keys(values) -> list[int]:
    return [int(v) for v in values]


def _json_keys(values) -> str:
    return json.dumps(_keys(values))


def _argument_slots(params, kinds: tuple[str, ...], connection) -> list[tuple[int, int, Any]]:
    """(position among `params`, argument number, how the call's value is written there) of
    each argument's sentinel, in whatever form the ORM put it in the SQL's parameters: the
    integer itself or its decimal text (a text column); the datetime, or the text the
    backend writes it as (SQLite); the list, or its JSON text."""
    forms: dict[Any, tuple[int, Any]] = {}
    lists: list[tuple[list, int]] = []
    for i, value in enumerate(_sentinels(kinds)):
        if isinstance(value, datetime.datetime):
            forms[value] = (i, None)
            written = connection.ops.adapt_datetimefield_value(value)
            if written is not value:
                forms.setdefault(written, (i, connection.ops.adapt_datetimefield_value))
        elif isinstance(value, list):
            lists.append((value, i))
            forms[json.dumps(value)] = (i, _json_keys)
        else:
            forms[value] = (i, None)
            forms[str(value)] = (i, str)
    slots = []
    for pos, p in enumerate(params):
        if type(p) is list:
            slots += [(pos, i, _keys) for value, i in lists if p == value]
        elif type(p) in (int, str, datetime.datetime) and p in forms:
            arg, write = forms[p]
            slots.append((pos, arg, write))
    return slots


def _fetch(using: str, sql: str, params: list, slots: list, args: tuple) -> list:
    """Run compiled `sql` with the call's arguments in their slots."""
    if slots:
        params = list(params)
        for pos, arg, write in slots:
            params[pos] = args[arg] if write is None else write(args[arg])
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class _RowReader:
    """What `compiler.results_iter([rows], tuple_expected=True)` gives, with what it works out
    on every call worked out once: the selected columns' converters (`get_converters`
    compared ~250 fields a case page, on each read)."""

    __slots__ = ("compiler", "columns", "converters", "composite")

    def __init__(self, compiler):
        self.compiler = compiler
        self.columns = [s[0] for s in compiler.select[0 : compiler.col_count]]
        self.converters = compiler.get_converters(self.columns)
        self.composite = compiler.has_composite_fields(self.columns)

    def __call__(self, rows: list) -> Any:
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        if self.composite:
            rows = self.compiler.composite_fields_to_tuples(rows, self.columns)
        if self.converters or self.composite:
            rows = map(tuple, rows)
        return rows


class _Compiled:
    __slots__ = (
        "compiler",
        "sql",
        "params",
        "slots",
        "instances",
        "populators",
        "fields",
        "reader",
    )

    def __init__(self, queryset: QuerySet, kinds: tuple[str, ...], using: str):
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        self.slots = _argument_slots(params, kinds, connections[using])
        if sorted({arg for _, arg, _ in self.slots}) != list(range(len(kinds))):
            raise ValueError("every argument of a prepared read must reach the SQL as a parameter")
        self.compiler, self.sql, self.params = compiler, sql, list(params)
        self.reader = _RowReader(compiler)
        klass_info = compiler.klass_info
        self.instances = klass_info is not None and queryset._iterable_class.__name__ == (
            "ModelIterable"
        )
        if self.instances:
            select = compiler.select
            start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            self.fields = (
                klass_info["model"],
                start,
                end,
                [f[0].target.attname for f in select[start:end]],
                dict(compiler.annotation_col_map or {}),
            )
            self.populators = get_related_populators(klass_info, select, using)


class Prepared:
    """A read whose SQL is compiled once: `build(*sentinels)` returns the queryset (model
    instances, or `values_list` tuples) with each argument given as the sentinel received.
    Arguments are integers (keys), or strings compared with a text column (a token's digest);
    `kinds` may name others (INSTANT: an aware datetime; IDS: a list of keys sent as one
    parameter). Each must reach the SQL as a parameter, as it is or as the backend writes it.
    """

    def __init__(
        self, build: Callable[..., QuerySet], nargs: int = 0, *, kinds: tuple[str, ...] = ()
    ):
        if kinds and len(kinds) != nargs:
            raise ValueError("one kind per argument")
        self._build, self._nargs = build, nargs
        self._kinds = kinds or (KEY,) * nargs
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._lock = threading.Lock()

    def _get(self, using: str) -> _Compiled:
        key = (using, connections[using].vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key)
                if compiled is None:
                    queryset = self._build(*_sentinels(self._kinds))
                    compiled = _Compiled(queryset, self._kinds, using)
                    self._compiled[key] = compiled
        return compiled

    def __call__(self, *args: Any, using: str = "default") -> list:
        """The rows for `args`: model instances (with their `select_related` records and
        annotations) or tuples, as the queryset would give them."""
        if len(args) != self._nargs:
            raise TypeError(f"expected {self._nargs} arguments, got {len(args)}")
        compiled = self._get(using)
        values = compiled.reader(_fetch(using, compiled.sql, compiled.params, compiled.slots, args))
        if not compiled.instances:
            return list(values)
        model, start, end, init_list, annotations = compiled.fields
        populators = compiled.populators
        out = []
        for row in values:
            obj = model.from_db(using, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for name, pos in annotations.items():
                setattr(obj, name, row[pos])
            out.append(obj)
        return out


class PreparedUnion:
    """Several `Prepared` reads run as ONE statement (UNION ALL), still compiled once per
    process and database from the same querysets: each part's SQL is the ORM's for its
    queryset, so a page that reads several small fixed lists pays one round trip without
    a hand-written twin of any of them.

    Every part is a `values_list` read taking the union's arguments (its build receives the
    same sentinels). The parts' columns must line up by type (position 1 of every part an
    integer, say); shorter parts are padded with NULLs of the widest part's types. Each part keeps its own ordering and
    slice: it is numbered by a window over its own ORDER BY, and the union is sorted by part
    and that number. A call returns one list per part, each what the part's queryset would
    return (its converters applied)."""

    def __init__(self, *parts: Prepared, nargs: int = 0):
        if any(part._nargs > nargs for part in parts):
            raise ValueError("a part of a prepared union takes the union's first arguments")
        self._parts, self._nargs = parts, nargs
        self._compiled: dict[tuple[str, str], tuple] = {}
        self._lock = threading.Lock()

    def _compile(self, using: str) -> tuple:
        from django.db.models import Value, Window
        from django.db.models.functions import Cast, RowNumber

        connection = connections[using]
        sentinels = _sentinels((KEY,) * self._nargs)
        querysets = [part._build(*sentinels[: part._nargs]) for part in self._parts]
        if any(qs._iterable_class.__name__ != "ValuesListIterable" for qs in querysets):
            raise ValueError("every part of a prepared union is a values_list read")
        widest = max(querysets, key=lambda qs: len(qs._fields))
        width = len(widest._fields)
        # Padding NULLs typed as the widest part's columns (PostgreSQL reads an untyped NULL
        # in a subquery as text, which a boolean or integer column cannot be unioned with).
        probe = widest.query.get_compiler(using=using)
        probe.setup_query()
        types = [col.output_field for col, _, _ in probe.select]
        sqls, params, readers = [], [], []
        for kind, qs in enumerate(querysets):
            query = qs.query
            ordering = query.order_by or (qs.model._meta.ordering if query.default_ordering else ())
            padded = qs.values_list(
                *qs._fields,
                *[Cast(Value(None), types[i]) for i in range(len(qs._fields), width)],
                Value(kind),
                # The part's own order (none: any order, as its queryset gives).
                Window(RowNumber(), order_by=list(ordering)) if ordering else Value(0),
            )
            if not query.is_sliced:
                padded = padded.order_by()  # the window numbers the rows
            compiler = padded.query.get_compiler(using=using)
            sql, part_params = compiler.as_sql()
            sqls.append(f"SELECT * FROM ({sql}) {connection.ops.quote_name(f'u{kind}')}")  # noqa: S608 - ORM SQL
            params.extend(part_params)
            readers.append((_RowReader(compiler), len(qs._fields)))
        sql = " UNION ALL ".join(sqls) + f" ORDER BY {width + 1}, {width + 2}"
        slots = _argument_slots(params, (KEY,) * self._nargs, connection)
        return sql, params, slots, readers, width

    def __call__(self, *args: Any, using: str = "default") -> list[list]:
        if len(args) != self._nargs:
            raise TypeError(f"expected {self._nargs} arguments, got {len(args)}")
        key = (using, connections[using].vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key) or self._compile(using)
                self._compiled[key] = compiled
        sql, params, slots, readers, width = compiled
        by_part: list[list] = [[] for _ in readers]
        for row in _fetch(using, sql, params, slots, args):
            by_part[row[width]].append(row)
        return [
            [values[:n] for values in reader(part)]
            for (reader, n), part in zip(readers, by_part, strict=True)
        ]
