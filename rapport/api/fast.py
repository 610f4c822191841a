"""The hot read endpoints' output without ninja's per-field machinery.

ninja validates a response by wrapping every row in a `DjangoGetter` and asking it for
each field (a Python call per field and row, ~850 a page of contacts) before pydantic
dumps the validated model again. `dump()` builds the same Python values from the same
output schema directly: each field in the schema's order, read through the schema's
`resolve_<field>` when it has one (ninja's resolvers, called as ninja calls them), else the
attribute (a manager or a queryset listed, a callable called, a missing attribute the
field's default: what `DjangoGetter` does); nested schemas dumped the same way. A value
whose type is exactly the field's simple type is what pydantic's validation would return
unchanged, so it is kept as is; any other value (or a field with constraints) goes
through pydantic's own validation of that field. The rendered JSON is the bytes ninja
renders (`rapport/api/tests/test_fast_output.py` compares them on every endpoint that
uses this). The operations keep their `response=` schemas: the OpenAPI document is the
same.

`related_rows()` reads a page's tags, emails and phones in ONE statement of plain tuples
instead of three prefetches (Django builds a related manager and a queryset per row and
relation for those).
"""

from __future__ import annotations

import datetime
import types
import typing
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

from django.db import connection
from django.db.models import Manager, QuerySet
from django.db.models.fields.files import FieldFile
from django.http import HttpResponse
from pydantic import BaseModel, TypeAdapter

_SIMPLE = (str, int, bool, float, Decimal, datetime.datetime, datetime.date, type(None))
_NONE = type(None)


class _Plan:
    """How to dump one field: its name, resolver, nested plan (for a Schema or a list of
    one), the exact types kept as they are, the adapter for anything else, the default."""

    __slots__ = (
        "name",
        "resolver",
        "takes_context",
        "nested",
        "many",
        "exact",
        "adapter",
        "default",
    )


def _field_plan(schema: type[BaseModel], name: str, field) -> _Plan:
    plan = _Plan()
    plan.name = name
    resolver = getattr(schema, "_ninja_resolvers", {}).get(name)
    plan.resolver = resolver._func if resolver is not None else None
    plan.takes_context = bool(resolver is not None and resolver._takes_context)
    plan.nested = None
    plan.many = False
    plan.exact = frozenset()
    plan.adapter = None
    plan.default = field
    annotation = field.annotation
    options = _union_members(annotation)
    nested = [o for o in options if isinstance(o, type) and issubclass(o, BaseModel)]
    lists = [o for o in options if typing.get_origin(o) is list]
    if nested and set(options) <= {*nested, _NONE} and len(nested) == 1 and not field.metadata:
        plan.nested = _schema_plan(nested[0])
        plan.exact = frozenset({_NONE} if _NONE in options else ())
        return plan
    if lists and len(lists) == 1 and set(options) <= {lists[0], _NONE} and not field.metadata:
        (item,) = typing.get_args(lists[0]) or (Any,)
        if isinstance(item, type) and issubclass(item, BaseModel):
            plan.nested = _schema_plan(item)
            plan.many = True
            plan.exact = frozenset({_NONE} if _NONE in options else ())
            return plan
    if not field.metadata and all(o in _SIMPLE for o in options):
        plan.exact = frozenset(options)
    # Anything else (a dict, a list of scalars, a literal, a constrained field): pydantic's
    # own validation of that field, on the value ninja would have validated.
    plan.adapter = _adapter(field)
    return plan


def _adapter(field) -> TypeAdapter:
    annotation = field.annotation
    if field.metadata:
        annotation = typing.Annotated[(annotation, *field.metadata)]
    return TypeAdapter(annotation)


def _union_members(annotation) -> tuple:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


@cache
def _schema_plan(schema: type[BaseModel]) -> tuple[_Plan, ...]:
    return tuple(_field_plan(schema, name, field) for name, field in schema.model_fields.items())


_MISSING = object()


def _value(obj: Any, plan: _Plan, context: dict | None) -> Any:
    if plan.resolver is not None:
        value = plan.resolver(obj, context=context) if plan.takes_context else plan.resolver(obj)
    else:
        if isinstance(obj, dict):
            value = obj.get(plan.name, _MISSING)
        else:
            value = getattr(obj, plan.name, _MISSING)
        if value is _MISSING:
            return plan.default.get_default(call_default_factory=True)
    if type(value) in _PLAIN:
        return value
    # DjangoGetter._convert_result
    if isinstance(value, Manager):
        value = list(value.all())
    elif isinstance(value, QuerySet):
        value = list(value)
    elif callable(value) and not isinstance(value, type):
        value = value()
    elif isinstance(value, FieldFile):
        value = value.url if value else None
    return value


_PLAIN = frozenset({*_SIMPLE, list, dict})


def _dump_one(obj: Any, plans: tuple[_Plan, ...], context: dict | None, overrides=None) -> dict:
    out = {}
    for plan in plans:
        if overrides is not None and plan.name in overrides:
            out[plan.name] = overrides[plan.name]
            continue
        value = _value(obj, plan, context)
        if type(value) in plan.exact:
            out[plan.name] = value
        elif plan.nested is not None:
            if plan.many:
                out[plan.name] = [_dump_one(v, plan.nested, context) for v in value]
            else:
                out[plan.name] = _dump_one(value, plan.nested, context)
        else:
            validated = plan.adapter.validate_python(value, from_attributes=True)
            out[plan.name] = plan.adapter.dump_python(validated)
    return out


def dump(schema: type[BaseModel], obj: Any, *, request=None, overrides: dict | None = None):
    """`obj` as ninja would dump it for `schema` (Python values, not yet JSON)."""
    context = {"request": request, "response_status": 200}
    return _dump_one(obj, _schema_plan(schema), context, overrides)


def dump_many(
    schema: type[BaseModel], objs, *, request=None, related: dict[str, dict] | None = None
) -> list[dict]:
    """Rows of `schema`; `related` ({field: {pk: value}}) replaces those fields' resolvers
    (a row missing from a field's map gets an empty list)."""
    plans = _schema_plan(schema)
    context = {"request": request, "response_status": 200}
    if not related:
        return [_dump_one(obj, plans, context) for obj in objs]
    rows = []
    for obj in objs:
        overrides = {name: by_pk.get(obj.pk, []) for name, by_pk in related.items()}
        rows.append(_dump_one(obj, plans, context, overrides))
    return rows


def json_response(request, data, response: HttpResponse | None = None) -> HttpResponse:
    """Render `data` with the API's renderer, into the operation's temporal response when
    given (its headers: ETag)."""
    from rapport.api.router import api

    content = api.renderer.render(request, data, response_status=200)
    if response is None:
        return HttpResponse(content, status=200, content_type=api.get_content_type())
    response.status_code = 200
    response.content = content
    return response


# ----- a page's tags, emails and phones in one statement ----------------------------------


def related_rows(
    model, ids: list[int], *, tags: bool = True, children: dict[str, tuple] | None = None
) -> dict[str, dict[int, list]]:
    """{"tags": {pk: sorted names}, <child>: {pk: [dicts]}} for the records `ids` of
    `model`, read in ONE statement (a UNION ALL of plain tuples).

    `children`: {field: (child model, fk name, (columns...), ordering)}; each child row
    becomes {column: value} in the columns' order (the output schema's fields), ordered by
    `ordering` (the fields of the child's prefetch ordering, "-" for descending) then id.

    The statement's text is made once per shape from the models' metadata (building and
    compiling the ORM's four-part union cost more than running it); only the ids vary.
    """
    children = children or {}
    result: dict[str, dict[int, list]] = {name: {} for name in children}
    if tags:
        result["tags"] = {}
    if not ids:
        return result
    ids = [int(i) for i in ids]
    sql, parts, booleans = _related_sql(model, tags, _freeze(children), connection.vendor)
    marks = ", ".join(["%s"] * len(ids))
    collected: dict[int, dict[int, list]] = {i: {} for i in range(parts)}
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("{ids}", marks), ids * parts)
        rows = cursor.fetchall()
    for row in rows:
        if booleans:
            row = tuple(
                bool(v) if i in booleans.get(row[0], ()) and v is not None else v
                for i, v in enumerate(row)
            )
        collected[row[0]].setdefault(row[1], []).append(row[2:])
    for kind, (name, (_child, _fk, columns, ordering)) in enumerate(children.items()):
        by_pk = result[name]
        for pk, found in collected[kind].items():
            found.sort(key=lambda r: r[0])  # id, the tie-breaker
            for field in reversed(ordering):
                index = columns.index(field.lstrip("-")) + 1
                found.sort(key=lambda r, i=index: r[i], reverse=field.startswith("-"))
            by_pk[pk] = [dict(zip(columns, r[1 : 1 + len(columns)], strict=True)) for r in found]
    if tags:
        by_pk = result["tags"]
        for pk, found in collected[len(children)].items():
            by_pk[pk] = sorted(r[1] for r in found)
    return result


def _freeze(children: dict) -> tuple:
    return tuple(
        (name, child, fk, tuple(columns), tuple(ordering))
        for name, (child, fk, columns, ordering) in children.items()
    )


@lru_cache(maxsize=64)
def _related_sql(model, tags: bool, children: tuple, vendor: str):
    """(SQL with an `{ids}` slot per part, number of parts, {part: indexes of boolean
    columns}) — SQLite answers booleans as 0/1."""
    quote = connection.ops.quote_name
    width = max([len(c[3]) for c in children] + [1])
    selects, booleans = [], {}
    for kind, (_name, child, fk, columns, _ordering) in enumerate(children):
        meta = child._meta
        fk_column = meta.get_field(fk.removesuffix("_id")).column
        cols = [quote(meta.get_field(c).column) for c in columns]
        booleans[kind] = {
            3 + i
            for i, c in enumerate(columns)
            if meta.get_field(c).get_internal_type() == "BooleanField"
        }
        pad = ["NULL"] * (width - len(columns))
        selects.append(
            # Identifiers from the models' metadata, quoted; only the ids are parameters.
            f"SELECT {kind}, {quote(fk_column)}, {quote(meta.pk.column)}, "  # noqa: S608
            f"{', '.join(cols + pad)} FROM {quote(meta.db_table)} "
            f"WHERE {quote(fk_column)} IN ({{ids}})"
        )
    if tags:
        field = model._meta.get_field("tags")
        through = field.remote_field.through._meta
        own = quote(field.m2m_column_name())
        other = quote(field.m2m_reverse_name())
        tag_meta = field.related_model._meta
        pad = ["NULL"] * (width - 1)
        selects.append(
            f"SELECT {len(children)}, t.{own}, t.{quote(through.pk.column)}, "  # noqa: S608
            f"g.{quote(tag_meta.get_field('name').column)}{''.join(', ' + p for p in pad)} "
            f"FROM {quote(through.db_table)} t JOIN {quote(tag_meta.db_table)} g "
            f"ON g.{quote(tag_meta.pk.column)} = t.{other} WHERE t.{own} IN ({{ids}})"
        )
    booleans = {k: v for k, v in booleans.items() if v}
    return " UNION ALL ".join(selects), len(selects), booleans
