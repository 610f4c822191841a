"""Global search (typeahead): the best few matches of each record type the user may see."""

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from math import ceil

from django.core.cache import cache as shared_cache
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Expression, F, IntegerField, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower

from rapport.accounts.models import Account, Contact
from rapport.accounts.selectors import accounts_visible_to, contacts_visible_to
from rapport.identity.models import User
from rapport.leads.models import Lead
from rapport.leads.selectors import leads_visible_to
from rapport.records.visibility import (
    reads_nothing,
    sees_all,
    shown_value,
    visibility_key,
    visible,
    visible_parts,
)
from rapport.sales.models import Opportunity
from rapport.sales.selectors import opportunities_visible_to
from rapport.search.indexes import INDEXES
from rapport.search.matching import (
    CandidateBatch,
    Term,
    candidate_batch,
    escape_like,
    like_sql,
    parse_query,
    search_among,
    search_candidates,
)
from rapport.search.similar import similar_rows
from rapport.search.statements import Template, marker_query, query_shape
from rapport.web.links import record_url

MAX_LIMIT = 20
# Rows ranked per way of matching (see search_candidates): enough for the best 20 to be
# among them, few enough to sort in well under a millisecond.
CANDIDATES = 100
# A user who sees fewer records of a type than this gets the per-grant candidates (the
# grant's index first); others the text index first, then visibility (_typeahead_rows).
FEW_VISIBLE = 2000
# Index first, when too few of a batch of text candidates are visible and the index had
# more: the next batch is up to BATCH_GROWTH times bigger (as many more as the visible share
# suggests), up to MAX_BATCH per way of matching; past that, the candidates are asked one
# grant at a time.
BATCH_GROWTH = 10
MAX_BATCH = 1000
# How long "this user sees at least FEW_VISIBLE records of the type" is remembered
# (_visible_sizes), with the estimated share of the records it is: it only picks the plan
# and the first batch's size.
MANY_TTL = 300
# Index first: the first batch is sized so that it holds about SHARE_MARGIN times `limit`
# visible rows at the user's estimated visible share (_first_batch).
SHARE_MARGIN = 2


def _join(*parts: str | None) -> str:
    return " · ".join(p for p in parts if p)


def _person(row: dict) -> str:
    return f"{row['first_name']} {row['last_name']}".strip()


@dataclass(frozen=True)
class Kind:
    """How one record type shows in the global search."""

    visible: Callable[[User], QuerySet]
    model: type
    values: tuple[str, ...]
    order: tuple[str, ...]  # after the rank
    full_name: tuple[str, ...]  # fields that, joined by a space, make the name (ranking)
    title: Callable[[dict], str]
    subtitle: Callable[[dict], str]
    # alias → (link, field): a linked record's field, NULL unless the user may see it
    linked: tuple[tuple[str, str, str], ...] = ()

    def rows(self, qs: QuerySet, user: User, *extra: str) -> QuerySet:
        """`qs`'s `values` (and `extra`) as dicts, linked names only where `user` may see
        the record."""
        names = {
            alias: shown_value(
                self.model._meta.get_field(link).related_model,
                user,
                f"{link}_id",
                f"{link}__{field}",
            )
            for alias, link, field in self.linked
        }
        return qs.annotate(**names).values(*self.values, *extra)


KINDS: dict[str, Kind] = {
    "account": Kind(
        visible=accounts_visible_to,
        model=Account,
        values=("id", "name", "domain", "city"),
        order=("name",),
        full_name=(),
        title=lambda r: r["name"],
        subtitle=lambda r: _join(r["domain"], r["city"]),
    ),
    "contact": Kind(
        visible=contacts_visible_to,
        model=Contact,
        values=("id", "first_name", "last_name", "email", "title", "account_name"),
        order=("last_name", "first_name"),
        full_name=("first_name", "last_name"),
        title=_person,
        subtitle=lambda r: _join(r["email"], r["account_name"] or r["title"]),
        linked=(("account_name", "account", "name"),),
    ),
    "lead": Kind(
        visible=leads_visible_to,
        model=Lead,
        values=("id", "first_name", "last_name", "company", "email"),
        order=("last_name", "first_name"),
        full_name=("first_name", "last_name"),
        title=_person,
        subtitle=lambda r: _join(r["company"], r["email"]),
    ),
    "opportunity": Kind(
        visible=opportunities_visible_to,
        model=Opportunity,
        values=("id", "name", "account_name", "stage__name"),
        order=("name",),
        full_name=(),
        title=lambda r: r["name"],
        subtitle=lambda r: _join(r["account_name"], r["stage__name"]),
        linked=(("account_name", "account", "name"),),
    ),
}
TYPES = tuple(KINDS)


class NameRank(Expression):
    """0: a name is the query; 1: a name starts with the query; 2: with its first word;
    3: the query is elsewhere (inside a name, an email, a phone).

    One expression compiling each name column once: typeahead runs it on every keystroke and
    a CASE built from When/Q objects costs more to compile than the query costs to run."""

    output_field = IntegerField()

    def __init__(self, fields: tuple[str, ...], full_name: tuple[str, ...], terms: list[Term]):
        super().__init__()
        self.fields, self.full_name = fields, full_name
        self.columns = [F(f) for f in dict.fromkeys(fields + full_name)]
        whole = escape_like(" ".join(t.text for t in terms))
        first = escape_like(terms[0].text)
        self.levels = [(whole, 0), (whole + "%", 1)]
        if first != whole:
            self.levels.append((first + "%", 2))

    def get_source_expressions(self):
        return self.columns

    def set_source_expressions(self, exprs):
        self.columns = list(exprs)

    def as_sql(self, compiler, connection, **extra):
        compiled = {}
        for name, column in zip(
            dict.fromkeys(self.fields + self.full_name), self.columns, strict=True
        ):
            compiled[name] = compiler.compile(column)[0]
        names = [compiled[f] for f in self.fields]
        if self.full_name:
            names.append(" || ' ' || ".join(compiled[f] for f in self.full_name))
        whens, params = [], []
        for pattern, rank in self.levels:
            whens.append(
                f"WHEN {' OR '.join(like_sql(n, connection.vendor) for n in names)} THEN {rank}"
            )
            params += [pattern] * len(names)
        return f"CASE {' '.join(whens)} ELSE 3 END", params


@cache
def _url_template(model: type) -> str:
    """The record page URL of `model` with a {pk} placeholder: reversing it once per type,
    not once per hit."""
    marker = 987654321
    return record_url(model(pk=marker)).replace(str(marker), "{pk}")


def _hit(kind: Kind, object_type: str, row: dict) -> dict:
    return {
        "type": object_type,
        "id": row["id"],
        "title": kind.title(row),
        "subtitle": kind.subtitle(row),
        "url_path": _url_template(kind.model).format(pk=row["id"]),
    }


def search_similar(
    *, user: User, q: str | None, types: list[str] | None = None, limit: int = 5
) -> list[dict]:
    """For each requested type, up to `limit` records `user` may see whose name is close to
    `q` (a typo: "mapel" for "maple"); see rapport.search.similar."""
    limit = max(1, min(limit, MAX_LIMIT))
    groups = []
    for object_type in [t for t in TYPES if not types or t in types]:
        kind = KINDS[object_type]
        rows = similar_rows(
            kind.visible(user), q, rows=lambda qs, kind=kind: kind.rows(qs, user), name=kind.title
        )
        groups.append(
            {"type": object_type, "items": [_hit(kind, object_type, r) for r in rows[:limit]]}
        )
    return groups


def search_typeahead(
    *,
    user: User,
    q: str | None,
    types: list[str] | None = None,
    limit: int = 5,
    similar: bool = False,
) -> list[dict]:
    """For each requested type, up to `limit` (≤ 20) records `user` may see that match every
    word of `q`, names equal to or starting with the query first, then by name. One query
    per type, ranking a bounded set of candidates (see search_candidates).

    With `similar`, when nothing at all matches, the records with a name close to `q`
    instead (typo tolerance), each group marked `"similar": True`."""
    groups = _exact_typeahead(user=user, q=q, types=types, limit=limit)
    if similar and not any(g["items"] for g in groups):
        groups = [
            {**group, "similar": True}
            for group in search_similar(user=user, q=q, types=types, limit=limit)
        ]
    return groups


def _exact_typeahead(*, user: User, q: str | None, types: list[str] | None, limit: int):
    limit = max(1, min(limit, MAX_LIMIT))
    wanted = [t for t in TYPES if not types or t in types]
    terms = parse_query(q)
    if terms:  # who sees how much of each type: one query for all (see _typeahead_rows)
        _visible_sizes(user, [KINDS[t] for t in wanted])
    groups = []
    for object_type in wanted:
        kind = KINDS[object_type]
        rows = _typeahead_rows(kind, object_type, user, q, terms, limit) if terms else []
        groups.append(
            {"type": object_type, "items": [_hit(kind, object_type, row) for row in rows]}
        )
    return groups


def _typeahead_rows(
    kind: Kind, object_type: str, user: User, q: str | None, terms: list[Term], limit: int
) -> list[dict]:
    """The best `limit` rows of `kind` that `user` may see among the candidates of `q` (at
    most CANDIDATES per way of matching, search_candidates), ranked.

    An admin (or a public org default) ranks the text candidates directly: one query. A user
    who sees fewer than FEW_VISIBLE records of the type (counted once per request, which
    also collects their ids) has the text matched among those ids on PostgreSQL
    (search_among: every source read through the ids, nothing cut off before visibility:
    exactly the plain selector's matches, ranked), and on SQLite the candidates one grant
    at a time (visible_parts: "owner = me AND match" joined to the FTS table, the LIMIT
    after visibility), as the text index would read mostly others' records. Anyone else
    (a rep who sees a sixth of a million contacts) goes text index first, visibility
    second: fetches the text candidates' ids (what
    the admin would rank), then ranks the visible ones among them, picked by primary key:
    one statement per batch (_batch_sql: the candidates as a materialised CTE, each
    way of matching tagged and counted, so it is known which were cut off); the first batch
    is sized by the user's estimated visible share (_first_batch). When they give
    `limit` rows, or no way was cut off (every match was a candidate: the visible ones are the answer, exactly), that
    is the answer (fewer than `limit` rows while some way was cut off would be fewer than
    the plain selector gives); otherwise a batch up to BATCH_GROWTH times bigger (up to
    MAX_BATCH per way), then the candidates one
    grant at a time (visible_parts), so a match is never lost to others' records filling
    a source's LIMIT (an emails source cuts off email rows, before the owner is known).
    Visibility is read at query time, never copied into the search documents: no key to
    keep current on owner changes, shares, teams, territories, org defaults. ORing
    the grants into the text query kept PostgreSQL off the trigram index for everyone but
    the admin (every text match read and tested against all the grants)."""

    def ranked(qs: QuerySet) -> list[dict]:
        return list(_ranked_rows(kind, object_type, user, terms, qs)[:limit])

    # `objects`: the active rows, as the *_visible_to selectors' base.
    base = kind.model.objects.all()
    if reads_nothing(user):  # visible_parts() would be []
        return []
    if sees_all(kind.model.OBJECT_TYPE, user):
        statement = _ranked_statement(kind, object_type, user, q, terms, limit, base.db)
        return _run_batch(statement, base.db)[0]  # an empty statement: no rows
    seen = _visible_sizes(user, [kind]).get(kind.model.OBJECT_TYPE, 0)
    if not seen:
        return []
    if seen < FEW_VISIBLE:  # few records: the text matched among their ids (PostgreSQL)
        ids = getattr(user, "_rapport_typeahead_ids", {}).get(kind.model.OBJECT_TYPE)
        if ids is not None and connections[base.db].vendor == "postgresql":
            return ranked(search_among(base, q, ids))
        parts = visible_parts(base, user)
        by_grant = search_candidates(visible(base, user), q, per_source=CANDIDATES, parts=parts)
        return ranked(kind.model.all_objects.filter(pk__in=by_grant))
    per_source = _first_batch(limit, _shares(user).get(kind.model.OBJECT_TYPE))
    using = base.db
    while True:
        statement = _index_first(kind, object_type, user, q, terms, limit, per_source, using)
        rows, per_way = _run_batch(statement, using)
        if len(rows) >= limit or statement.complete_counts(per_way):
            return rows
        if per_source >= MAX_BATCH:
            break
        # Sized by what is missing: twice the share of visible candidates the limit needs
        # (17 of 100 visible for a limit of 20: 300), BATCH_GROWTH× when none was visible.
        growth = ceil(2 * limit / len(rows)) if rows else BATCH_GROWTH
        per_source = min(MAX_BATCH, per_source * max(2, min(BATCH_GROWTH, growth)))
    parts = visible_parts(base, user)
    by_grant = search_candidates(visible(base, user), q, per_source=CANDIDATES, parts=parts)
    return ranked(kind.model.all_objects.filter(pk__in=by_grant))


def _ranked_rows(
    kind: Kind, object_type: str, user: User, terms: list[Term], qs: QuerySet, *extra: str
) -> QuerySet:
    """`qs` ranked for `terms` (names equal to, then starting with, the query first; then
    by name and id), as `kind.rows` for `user` (and `extra`, such as the rank)."""
    rank = NameRank(INDEXES[object_type].name_fields, kind.full_name, terms)
    qs = qs.annotate(_rank=rank).order_by("_rank", *(Lower(f) for f in kind.order), "id")
    return kind.rows(qs, user, *extra)


def _first_batch(limit: int, share: float | None) -> int:
    """Rows per way of matching of the index-first plan's first batch, for a user who sees
    `share` of the records (None: unknown): enough for about SHARE_MARGIN × `limit` of them
    to be visible, between CANDIDATES and MAX_BATCH. A rep who sees a sixth of the contacts
    (limit 20) starts at 240: at 100, the first batch held ~17 of their rows, short of the
    limit, and a second batch read every index again."""
    if not share:
        return CANDIDATES
    return max(CANDIDATES, min(MAX_BATCH, ceil(SHARE_MARGIN * limit / share)))


def _shares(user: User) -> dict[str, float | None]:
    """The estimated visible shares _visible_sizes found for the types `user` sees many
    records of (this request)."""
    return getattr(user, "_rapport_typeahead_shares", {})


def _estimated_shares(parts: dict[str, list[QuerySet]]) -> dict[str, float | None]:
    """For each type, the share of its records the union of `parts` (visible_parts: one
    grant each) holds, as the PostgreSQL planner estimates it from the statistics (one
    EXPLAIN, no rows read: counting a rep's 166,665 contacts took 0.3 s): the sum of the
    parts' estimated rows (an overlap counts twice) over the active rows', at most 1.
    None on SQLite and when the plan is not the expected Append of one scan per query."""
    found: dict[str, float | None] = dict.fromkeys(parts)
    using = next(iter(parts.values()))[0].db
    if connections[using].vendor != "postgresql":
        return found
    sqls, params, sizes = [], [], []
    for object_type, type_parts in parts.items():
        base = type_parts[0].model.objects.all()
        for qs in (base, *type_parts):
            try:
                sql, qs_params = qs.order_by().values("pk").query.get_compiler(using).as_sql()
            except EmptyResultSet:  # a grant that can match nothing: no estimate
                return found
            sqls.append(f"SELECT * FROM ({sql}) AS q{len(sqls)}")  # noqa: S608
            params += qs_params
        sizes.append((object_type, len(type_parts) + 1))
    with connections[using].cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + " UNION ALL ".join(sqls), params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    top = plan[0].get("Plan", {}) if plan else {}
    rows = [child.get("Plan Rows", 0) for child in top.get("Plans", [])]
    if top.get("Node Type") != "Append" or len(rows) != len(sqls):
        return found
    at = 0
    for object_type, n in sizes:
        total, seen = rows[at], sum(rows[at + 1 : at + n])
        found[object_type] = min(1.0, seen / total) if total > 0 else None
        at += n
    return found


def _visible_sizes(user: User, kinds: list[Kind]) -> dict[str, int]:
    """How many records of each of `kinds` `user` may see, each counted up to FEW_VISIBLE
    (index ranges of the grants): one query for all the types, once per user object (that
    is, once per request). Types the user sees whole are left out.

    "At least FEW_VISIBLE" is also remembered in the cache for MANY_TTL seconds, with the
    estimated share of the records the user sees (_estimated_shares, for the first batch's
    size: _first_batch; kept on the user object as `_rapport_typeahead_shares`): counting
    it built the bitmap of the whole owner or team range (166,665 or 500,000 rows at 1M)
    on every keystroke. The number only picks the plan; both plans check visibility at
    query time, so a stale "many" (the user lost their records since) costs speed, never
    a result. Fewer than FEW_VISIBLE, zero included (which answers "nothing" without a
    query), is counted afresh every time, and those ids are kept on the user object
    (`_rapport_typeahead_ids`, one request) for the few-records plan: the query that counts
    them reads them anyway."""
    cache = getattr(user, "_rapport_typeahead_sizes", None)
    if cache is None:
        cache = user._rapport_typeahead_sizes = {}
    shares = getattr(user, "_rapport_typeahead_shares", None)
    if shares is None:
        shares = user._rapport_typeahead_shares = {}
    # type -> estimated share (or None)
    many_key = f"rapport:typeahead-many-shares:{FEW_VISIBLE}:{user.pk}"
    many = shared_cache.get(many_key, {})
    missing = {}
    for kind in kinds:
        object_type = kind.model.OBJECT_TYPE
        if object_type in cache:
            continue
        if object_type in many:
            cache[object_type] = FEW_VISIBLE
            shares[object_type] = many[object_type]
            continue
        parts = visible_parts(kind.model.objects.all(), user)
        if not parts:
            cache[object_type] = 0
        elif not sees_all(object_type, user):
            missing[object_type] = parts
    if missing:
        using = next(iter(missing.values()))[0].db
        sqls, params, names = [], [], list(missing)
        for n, parts in enumerate(missing.values()):
            for part in parts:
                query = part.order_by().values("pk")[:FEW_VISIBLE].query
                sql, part_params = query.get_compiler(using).as_sql()
                sqls.append(f"SELECT {n}, {len(sqls)}, pk FROM ({sql}) AS part{len(sqls)}")  # noqa: S608
                params += part_params
        union = " UNION ALL ".join(sqls)
        with connections[using].cursor() as cursor:
            cursor.execute(f"SELECT * FROM ({union}) AS parts", params)  # noqa: S608
            rows = cursor.fetchall()
        per_part: dict[int, int] = {}
        found: dict[str, set[int]] = {t: set() for t in names}
        for n, part, pk in rows:
            per_part[part] = per_part.get(part, 0) + 1
            found[names[n]].add(pk)
        full = {names[n] for n, part, _ in rows if per_part[part] >= FEW_VISIBLE}
        counted = {t: FEW_VISIBLE if t in full else len(found[t]) for t in names}
        ids = getattr(user, "_rapport_typeahead_ids", None)
        if ids is None:
            ids = user._rapport_typeahead_ids = {}
        ids.update({t: sorted(found[t]) for t in names if counted[t] < FEW_VISIBLE})
        cache.update(counted)
        more = {t: missing[t] for t, n in counted.items() if n >= FEW_VISIBLE}
        if more:
            estimated = _estimated_shares(more)
            shares.update(estimated)
            shared_cache.set(many_key, {**many, **estimated}, MANY_TTL)
    return cache


BATCH_CTE = "rapport_batch"
IN_BATCH = f"SELECT pk FROM {BATCH_CTE}"  # noqa: S608 - constant


def _materialized(using: str) -> str:
    """The CTE hint where the database knows it: SQLite before 3.35 (still shipped by some
    LTS distributions; Django 5.2 supports 3.31) refuses `AS MATERIALIZED`, and there a
    CTE referenced twice is materialised anyway."""
    if connections[using].vendor == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        return ""
    return "MATERIALIZED "


@dataclass(frozen=True)
class _BatchStatement:
    """A typeahead statement ready to run (_run_batch): one batch of the index-first plan
    (_batch_sql), or the ranked candidates of a user who sees every record
    (_ranked_statement: no ways of matching counted)."""

    sql: str
    params: list
    per_source: int
    counted: tuple[bool, ...]  # CandidateBatch.counted: one per way of matching
    empty: bool = False  # the rows can match nothing (EmptyResultSet): nothing to run
    # The compiler's converters, for the rows (the ranked statement: its values() reads).
    reader: Callable[[list], list] | None = field(default=None, compare=False)

    def complete_counts(self, per_way: list[int]) -> bool:
        """CandidateBatch.complete_counts: no way was cut off."""
        return all(
            counted and n < self.per_source
            for counted, n in zip(self.counted, per_way, strict=True)
        )


# Typeahead statements kept by (plan, database, type, limit, rows per way, the user's
# visibility_key, query shape): _kept, rapport.search.statements. A user's grants are part
# of the key, so a statement is never run for anyone whose conditions would differ; a rep
# typing a few queries of a few shapes fills a few entries (all admins share theirs).
_STATEMENTS: OrderedDict[tuple, tuple["_BatchStatement", Template]] = OrderedDict()
_STATEMENTS_SIZE = 512
_STATEMENTS_LOCK = threading.Lock()


def _index_first(
    kind: Kind,
    object_type: str,
    user: User,
    q: str | None,
    terms: list[Term],
    limit: int,
    per_source: int,
    using: str,
) -> _BatchStatement:
    """The statement of one batch of the index-first typeahead (_build_batch), from a
    template kept for the query's shape and the user's grants when there is one (_kept)."""
    return _kept(
        ("batch", using, object_type, limit, per_source, visibility_key(user)),
        q,
        terms,
        lambda q, terms: _build_batch(kind, object_type, user, q, terms, limit, per_source, using),
    )


def _kept(
    key: tuple,
    q: str | None,
    terms: list[Term],
    build: Callable[[str | None, list[Term]], "_BatchStatement"],
) -> "_BatchStatement":
    """`build(q, terms)` (a typeahead statement), from a template kept under `key` and the
    query's shape when there is one (rapport.search.statements: the ORM builds it once with
    stand-in words; each later keystroke of that shape only puts its words in the
    parameters). `key` holds everything else the statement depends on, the user's
    visibility_key among it."""
    shape = query_shape(terms)
    if shape is None:
        return build(q, terms)
    key = (*key, shape)
    with _STATEMENTS_LOCK:
        kept = _STATEMENTS.get(key)
        if kept is not None:
            _STATEMENTS.move_to_end(key)
    if kept is not None:
        statement, template = kept
        return replace(statement, params=template.fill(terms))
    built = build(q, terms)
    markers = marker_query(shape)
    if markers is None or built.empty:
        return built
    marked = build(*markers)
    if marked.empty or replace(marked, sql="", params=[]) != replace(built, sql="", params=[]):
        return built
    template = Template.of(marked.sql, marked.params, markers[1])
    if template.check(built.sql, built.params, terms):  # else: built for the words each time
        with _STATEMENTS_LOCK:
            _STATEMENTS[key] = (replace(built, params=[]), template)
            while len(_STATEMENTS) > _STATEMENTS_SIZE:
                _STATEMENTS.popitem(last=False)
    return built


def _ranked_statement(
    kind: Kind,
    object_type: str,
    user: User,
    q: str | None,
    terms: list[Term],
    limit: int,
    using: str,
) -> _BatchStatement:
    """The statement of the typeahead of a user who sees every record of the type: the
    best `limit` of at most CANDIDATES text candidates per way of matching, ranked (from a
    template kept for the query's shape, _kept)."""

    def build(q: str | None, terms: list[Term]) -> _BatchStatement:
        candidates = search_candidates(kind.model.objects.all(), q, per_source=CANDIDATES)
        qs = kind.model.all_objects.filter(pk__in=candidates)
        rows = _ranked_rows(kind, object_type, user, terms, qs, "_rank")
        compiler = rows[:limit].query.get_compiler(using)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            return _BatchStatement("", [], CANDIDATES, (), empty=True)
        converters = compiler.get_converters([c[0] for c in compiler.select[: compiler.col_count]])
        reader = None
        if converters:  # as the queryset's values() would give them (the rank's int())

            def reader(rows: list) -> list:
                return [tuple(r) for r in compiler.apply_converters(rows, converters)]

        return _BatchStatement(sql, list(params), CANDIDATES, (), reader=reader)

    return _kept(
        ("ranked", using, object_type, limit, CANDIDATES, visibility_key(user)), q, terms, build
    )


def _build_batch(
    kind: Kind,
    object_type: str,
    user: User,
    q: str | None,
    terms: list[Term],
    limit: int,
    per_source: int,
    using: str,
) -> _BatchStatement:
    """The ORM's statement for one batch of `per_source` candidates per way of matching `q`
    (candidate_batch), ranking the best `limit` rows `user` may see among them (_batch_sql)."""
    base = kind.model.objects.all()
    batch = candidate_batch(base, q, per_source=per_source)
    in_batch = base.filter(pk__in=RawSQL(IN_BATCH, [])).filter(batch.short)  # noqa: S611
    qs = visible(in_batch, user)
    ranked = _ranked_rows(kind, object_type, user, terms, qs, "_rank")[:limit]
    try:
        sql, params = _batch_sql(batch, ranked, kind, using)
    except EmptyResultSet:
        return _BatchStatement("", [], per_source, batch.counted, empty=True)
    return _BatchStatement(sql, params, per_source, batch.counted)


def _batch_sql(batch: CandidateBatch, ranked: QuerySet, kind: Kind, using: str) -> tuple[str, list]:
    """ONE statement for a batch of the index-first typeahead: the batch's (id, way) rows
    as a materialised CTE, the best visible rows among them (`ranked`, which selects its
    ids from the CTE: `pk IN (SELECT pk FROM rapport_batch)`) and how many rows each way
    of matching gave, so the caller knows whether any was cut off. This was two round
    trips per batch, the second carrying every candidate id as a parameter (up to
    3,000 placeholders compiled per keystroke). Raises EmptyResultSet when `ranked` can
    select nothing."""
    sql, params = ranked.query.get_compiler(using).as_sql()
    ways = len(batch.counted)
    counts = ", ".join(f"count(CASE WHEN way = {n} THEN 1 END) AS way{n}" for n in range(ways))
    order = ", ".join(["r._rank", *(f"lower(r.{f})" for f in kind.order), "r.id"])
    # Identifiers and SQL built here and in matching.py; the query's words are parameters.
    statement = (
        f"WITH {BATCH_CTE}(pk, way) AS {_materialized(using)}({batch.sql}) "  # noqa: S608
        f"SELECT c.*, r.* FROM (SELECT {counts} FROM {BATCH_CTE}) AS c "
        f"LEFT JOIN ({sql}) AS r ON 1 = 1 ORDER BY {order}"
    )
    return statement, [*batch.params, *params]


def _run_batch(statement: _BatchStatement, using: str) -> tuple[list[dict], list[int]]:
    """The rows of a batch statement (the best visible ones, ranked) and how many
    candidates each way of matching gave."""
    ways = len(statement.counted)
    if statement.empty:
        return [], [0] * ways
    with connections[using].cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        names = [d[0] for d in cursor.description]
        found = cursor.fetchall()
    if statement.reader is not None:
        found = statement.reader(found)
    per_way = list(found[0][:ways]) if found else [0] * ways
    rows = []
    for row in found:
        record = dict(zip(names[ways:], row[ways:], strict=True))
        if record["id"] is not None:
            record.pop("_rank", None)
            rows.append(record)
    return rows, per_way
