"""The search service: narrow a queryset of records to those matching free text.

Every list's `q` filter goes through `search_filter` (called by
`rapport.records.selectors.text_filter`); the global typeahead ranks the few rows
`search_candidates` picks. Words are matched as substrings, every word must match (in any
indexed column); words shorter than a trigram match the start of a name field; a query that
looks like a phone number is matched as its digits. The queryset passed in is already
narrowed by visibility: these only add conditions (`pk IN (<ids from the index>)`, a join
with the FTS table, the indexed trigram expression), so the result stays lazy and is one
SQL query.
"""

# ruff: noqa: S608, S611 - identifiers come from indexes.py; the query's words are parameters

import re
from dataclasses import dataclass
from functools import lru_cache

from django.apps import apps
from django.db import connections
from django.db.models import BooleanField, F, Func, Q, QuerySet
from django.db.models.expressions import RawSQL

from rapport.accounts.contact_methods import PhoneProblem, phone_e164
from rapport.search.indexes import BY_MODEL, INDEXES, IndexedTable, SearchIndex
from rapport.search.schema import (
    BUCKETED,
    GRAM_MAX,
    GRAM_MIN,
    carried_column,
    carried_names,
    digits_columns,
    pg_document,
    pg_first_bucket,
    pg_grams,
    pg_names_document,
    pg_value,
)

MAX_WORDS = 5
MAX_WORD_LENGTH = 100
TRIGRAM = 3
_PHONE_QUERY = re.compile(r"\+?[\d\s().\-/]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Term:
    """One word of the query, lower-cased; `variants` are alternatives any of which may match
    (a phone number with and without its leading zeros)."""

    text: str
    variants: tuple[str, ...]
    phone: bool = False

    @property
    def short(self) -> bool:
        return len(self.text) < TRIGRAM


def parse_query(q: str | None, *, phones: bool = True) -> list[Term]:
    """The words of a free-text query (at most five, duplicates dropped). With `phones`, a
    query that looks like a phone number is one term: its digits, written in any format."""
    q = _CONTROL.sub(" ", q or "").strip().lower()
    if not q:
        return []
    if phones and _PHONE_QUERY.fullmatch(q):
        digits = re.sub(r"\D", "", q)
        if len(digits) >= TRIGRAM:
            # "+44 20 7946 0958", "020 7946 0958" and "0044…" must all find +442079460958;
            # "2024-05" may also be a word of a name.
            variants = [digits]
            if len(digits.lstrip("0")) >= TRIGRAM:
                variants.append(digits.lstrip("0"))
            international = _international_digits(q)
            if international and not any(v in international for v in variants):
                variants.append(international)  # "+44 (0)20 7946 0958"
            if " " not in q:
                variants.append(q[:MAX_WORD_LENGTH])
            return [Term(digits, tuple(dict.fromkeys(variants)), phone=True)]
    terms: list[Term] = []
    for word in q.split():
        word = word[:MAX_WORD_LENGTH]
        if word not in {t.text for t in terms}:
            terms.append(Term(word, (word,)))
        if len(terms) == MAX_WORDS:
            break
    return terms


@lru_cache(maxsize=256)  # parse_query runs several times per keystroke
def _international_digits(q: str) -> str | None:
    """The digits of the E.164 form of a query that is a possible phone number (stored
    numbers are E.164): a national prefix typed inside an international number, "(0)",
    is dropped. None for fragments."""
    try:
        return phone_e164(q).lstrip("+")
    except PhoneProblem:
        return None


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_sql(lhs: str, vendor: str) -> str:
    """`lhs LIKE %s`, case-insensitive, for a lower-cased pattern, in the form the prefix
    indexes of schema.py serve (SQLite: NOCASE index; PostgreSQL: lower() text_pattern_ops)."""
    if vendor == "sqlite":  # LIKE is case-insensitive (ASCII) in SQLite
        return f"{lhs} LIKE %s ESCAPE '\\'"
    if vendor == "postgresql":  # backslash is the default escape
        return f"lower({lhs}) LIKE %s"
    return f"UPPER({lhs}) LIKE UPPER(%s) ESCAPE '\\'"


class Like(Func):
    """`expression LIKE pattern` (see like_sql), usable in filter() and When()."""

    output_field = BooleanField()

    def __init__(self, expression, pattern: str):
        super().__init__(expression)
        self.pattern = pattern

    def as_sql(self, compiler, connection, **extra):
        lhs, params = compiler.compile(self.source_expressions[0])
        return like_sql(lhs, connection.vendor), (*params, self.pattern)


def name_prefix(index: SearchIndex, prefix: str) -> Q:
    """Any name field of the record starts with `prefix` (case-insensitively)."""
    pattern = escape_like(prefix.lower()) + "%"
    cond = Q()
    for field in index.name_fields:
        cond |= Q(Like(field, pattern))
    return cond


# ----- SQL over the indexes ------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """An indexed table seen from a record type: its own table, its emails, its account."""

    table: IndexedTable
    path: str  # ORM path from the record to the rows of `table` ("" for the record itself)


def sources(index: SearchIndex) -> list[Source]:
    found = [Source(t, t.path) for t in index.tables]
    for fk, object_type in index.through:
        found += [
            Source(t, f"{fk}__{t.path}" if t.path else fk) for t in INDEXES[object_type].tables
        ]
    return found


def _fts_phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _fts_query(terms: list[Term], *, starts: tuple[str, ...] = ()) -> str:
    """An FTS5 query every term of which must match (as a substring: trigram tokenizer);
    with `starts`, the first term must begin one of those columns."""
    parts = []
    for term in terms:
        phrases = [_fts_phrase(v) for v in term.variants]
        parts.append(phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")")
    if starts:
        parts[0] = "{" + " ".join(starts) + "} : ^" + _fts_phrase(terms[0].text)
    return " AND ".join(parts)


def _gram_codes(digits: str) -> list[int]:
    """The keys of schema.pg_grams to look up for a query of `digits` (≥ GRAM_MIN): the
    query itself up to GRAM_MAX digits, else GRAM_MAX-digit runs covering it."""
    if len(digits) <= GRAM_MAX:
        return [int("1" + digits)]
    starts = list(range(0, len(digits) - GRAM_MAX + 1, GRAM_MAX))
    starts.append(len(digits) - GRAM_MAX)
    return [int("1" + digits[i : i + GRAM_MAX]) for i in dict.fromkeys(starts)]


def _digits_where(
    digits: list[str], variant: str, row_id: str = "id", first_bucket: bool = False
) -> tuple[list[str], list]:
    """The phone columns (`digits`: their digits expressions, of the row whose id is
    `row_id`) contain `variant`: one key of their n-gram index (schema.pg_grams) up to
    GRAM_MAX digits; longer numbers look up a few keys and check the digits themselves.
    `first_bucket`: only the rows of the first bucket, for a code that has buckets
    (schema.BUCKETED); any other is asked whole."""
    codes = _gram_codes(variant)
    if first_bucket and len(variant) <= BUCKETED:
        codes = [pg_first_bucket(code) for code in codes]
    contains = f"ARRAY[{', '.join(['%s'] * len(codes))}]::int[]"
    likes, params = [], []
    for d in digits:
        sql = f"{pg_grams(d, row_id)} @> {contains}"
        params += codes
        if len(variant) > GRAM_MAX:
            sql = f"({sql} AND {d} LIKE %s)"
            params.append("%" + variant + "%")
        likes.append(sql)
    return likes, params


def _bucketed(term: Term, digits: list[str], digits_only: bool) -> bool:
    """Whether a digit variant of phone `term` asked of a table has a first bucket."""
    variants = _useful_variants(term, digits, digits_only=digits_only)
    return any(GRAM_MIN <= len(v) <= BUCKETED for v in variants if v.isdigit())


def _useful_variants(term: Term, digits: list[str], *, digits_only: bool) -> tuple[str, ...]:
    """The variants of `term` worth asking of a table (PostgreSQL): a phone term's digit
    variant that contains another one is dropped (whatever contains "008429" contains
    "8429": ORing both read two posting lists for the matches of one), and a variant with
    separators ("008-429") is not asked of a document made of digits only (a phones
    table), which can not contain it.

    Any term's variant with a character other than a digit is not asked of a
    document of phone digits either ("19@", a piece of an email, of the phones table): it
    can match nothing there, and pg_trgm, which reads only its letters and digits ("19"),
    found a candidate in every number and rechecked each heap row (8,340 buffers, ~40 ms
    of a 1M admin keystroke)."""
    variants = term.variants
    if digits_only:
        variants = tuple(v for v in variants if v.isdigit())
    if not term.phone:
        return variants
    numbers = [v for v in variants if v.isdigit()]
    kept = []
    for v in variants:
        if v.isdigit() and any(o != v and o in v for o in numbers):
            continue
        kept.append(v)
    return tuple(kept)


def _split_phone(terms: list[Term], digits: list[str]) -> bool:
    """Whether a phone query on a table with phone columns is asked as two ways (_pg_where
    `part`): its digits through the n-gram index, its other variants through the document."""
    return len(terms) == 1 and terms[0].phone and bool(digits)


def _pg_where(
    document: str,
    terms: list[Term],
    digits: list[str] = (),
    *,
    scan: bool = False,
    digits_only: bool = False,
    part: str | None = None,
    row_id: str = "id",
    first_bucket: bool = False,
) -> tuple[str, list]:
    """Every term matches `document`; a phone-number term of a table with phone columns
    (`digits`: their digits expressions) matches those columns' digit n-grams instead
    (schema.pg_digits_sql), and the document only in the form typed (a "2024-05" in a
    name) or when shorter than an n-gram. With `scan` (rows already narrowed to a few by
    their ids), the digits are compared as they are: the same matches, without calling the
    n-gram function (~80 µs a row) on each row. `digits_only`: the document is made of
    phone digits only (_useful_variants).

    `part` ("digits" or "text", for a phone term: _split_phone) keeps only the n-gram or
    only the document conditions; the two parts' matches together are the whole's. Asked
    as one OR, PostgreSQL ANDed nothing but read both into one bitmap, and every row the
    document's trigrams could not prove (most rows of a common digit trigram) was checked
    again with the whole condition, n-gram function included: 0.4-0.5 s of CPU for a
    fragment like "008-429" at 1M. Apart, the n-gram part is exact (no recheck) and the
    document part rechecks its LIKE only. A part with no condition matches nothing.
    `row_id` and `first_bucket`: _digits_where's."""
    conds, params = [], []
    for term in terms:
        likes, values = [], []
        for variant in _useful_variants(term, digits, digits_only=digits_only):
            if term.phone and digits and variant.isdigit() and len(variant) >= GRAM_MIN:
                if part == "text":
                    continue
                if scan:
                    likes += [f"{d} LIKE %s" for d in digits]
                    values += ["%" + variant + "%"] * len(digits)
                    continue
                sqls, p = _digits_where(digits, variant, row_id, first_bucket)
                likes += sqls
                values += p
            else:
                if part == "digits":
                    continue
                likes.append(f"{document} LIKE %s")
                values.append("%" + escape_like(variant) + "%")
        if not likes:
            likes = ["false"]
        conds.append(likes[0] if len(likes) == 1 else "(" + " OR ".join(likes) + ")")
        params += values
    return " AND ".join(conds), params


def _parts(t: IndexedTable, terms: list[Term], scan: bool = False) -> list[str | None]:
    """The `part`s of _pg_where to ask of table `t` for `terms`, each as its own statement
    or subquery: [None] (everything at once) unless _split_phone, and never a part that
    matches nothing."""
    digits = digits_columns(t)
    if scan or not _split_phone(terms, digits):
        return [None]
    only = len(digits) == len(t.columns)
    variants = _useful_variants(terms[0], digits, digits_only=only)
    gram = [v for v in variants if v.isdigit() and len(v) >= GRAM_MIN]
    parts = []
    if gram:
        parts.append("digits")
    if len(gram) < len(variants):
        parts.append("text")
    return parts or [None]


def _table_ids(
    t: IndexedTable,
    terms: list[Term],
    vendor: str,
    *,
    scan: bool = False,
    capped: bool = False,
    parts: tuple[str, ...] | None = None,
) -> tuple[str, list]:
    """SQL selecting the record ids of rows of `t` matching every term (`scan`: _pg_where;
    a phone query on a table with phone columns: its _parts with UNION ALL, so an id may
    come twice; `parts`: only those of them). `capped`: the caller takes the first rows
    under a LIMIT, and the digits part asks its first bucket first (_digits_capped)."""
    if vendor == "sqlite":
        ids = f"SELECT rowid FROM {t.fts} WHERE {t.fts} MATCH %s"
        params: list = [_fts_query(terms)]
        if t.record_column == "id":
            return ids, params
        return f"SELECT {t.record_column} FROM {t.table} WHERE id IN ({ids})", params
    digits = [pg_value(c) for c in digits_columns(t)]
    only = len(digits) == len(t.columns)
    sqls, params = [], []
    for part in _parts(t, terms, scan):
        if parts is not None and part not in parts:
            continue
        steps = [False]
        if capped and part == "digits" and _bucketed(terms[0], digits, only):
            steps = [True, False]  # the first bucket, then every row (again: ids twice)
        for first_bucket in steps:
            where, p = _pg_where(
                pg_document(t),
                terms,
                digits,
                scan=scan,
                digits_only=only,
                part=part,
                first_bucket=first_bucket,
            )
            sqls.append(f"SELECT {t.record_column} FROM {t.table} WHERE {where}")
            params += p
    return " UNION ALL ".join(sqls), params


def _digits_capped(t: IndexedTable, terms: list[Term], cap: int) -> tuple[str, list]:
    """PostgreSQL: SQL selecting the ids of at most `cap` rows of `t` (a record's own
    table) whose phone digits contain the phone term, for a typeahead way that wants any
    `cap` of the matches: the rows of the code's first bucket (schema.BUCKETS), then all of
    its rows, under one LIMIT, which stops reading as soon as it has `cap` rows. A code in
    more than BUCKETS × `cap` numbers fills it from the first bucket's key; any other has
    fewer than BUCKETS × `cap` entries in all. The first bucket's rows come twice when the
    second step runs, so fewer than `cap` rows still means every match (and `cap` rows
    may hold them all)."""
    sql, params = _table_ids(t, terms, "postgresql", capped=True, parts=("digits",))
    return f"{sql} LIMIT {int(cap)}", params


def _source_ids(
    index: SearchIndex,
    source: Source,
    terms: list[Term],
    vendor: str,
    cap: int | None = None,
    *,
    scan: bool = False,
    capped: bool = False,
) -> tuple[str, list]:
    """SQL selecting ids of records of `index` whose `source` rows match every term (with
    `cap`, from at most that many matching rows of the source; `capped`: the caller puts
    the LIMIT, _table_ids)."""
    sql, params = _table_ids(source.table, terms, vendor, scan=scan, capped=capped or bool(cap))
    if cap is not None:
        sql = f"{sql} LIMIT {int(cap)}"
    if source.path and source.table.record_column == "id":  # a parent: the records under it
        fk = source.path.split("__")[0]
        return f"SELECT id FROM {index.main.table} WHERE {fk}_id IN ({sql})", params
    return sql, params


class DocumentLike(Func):
    """PostgreSQL: the rows of `source` reached from the queried record match every term,
    written with the indexed expression (schema.pg_document) so the trigram index serves it.
    Compiled from column references: right whatever the table aliases of the query."""

    output_field = BooleanField()

    def __init__(
        self, source: Source, terms: list[Term], *, scan: bool = False, part: str | None = None
    ):
        prefix = f"{source.path}__" if source.path else ""
        columns = (c.name for c in source.table.columns)
        super().__init__(*(F(prefix + c) for c in (*columns, "id")))
        self.source, self.terms, self.scan, self.part = source, terms, scan, part

    def row_id(self, compiler) -> str:
        """The row's id, as this query refers to it (the phone n-gram keys take it)."""
        sql, _ = compiler.compile(self.source_expressions[-1])
        return sql

    def document(self, compiler) -> tuple[str, list[str]]:
        """The indexed expression (schema.pg_document) with this query's column references,
        and its phone columns' digits expressions."""
        values, digits = [], []
        for column, expression in zip(
            self.source.table.columns, self.source_expressions[:-1], strict=True
        ):
            sql, params = compiler.compile(expression)
            if params:
                raise ValueError("document columns take no parameters")
            values.append(pg_value(column, sql))
            if column.digits:
                digits.append(pg_value(column, sql))
        return "lower(" + " || ' ' || ".join(values) + ")", digits

    def as_sql(self, compiler, connection, **extra):
        document, digits = self.document(compiler)
        only = len(digits) == len(self.source.table.columns)
        return _pg_where(
            document,
            self.terms,
            digits,
            scan=self.scan,
            digits_only=only,
            part=self.part,
            row_id=self.row_id(compiler),
        )


class DocumentWordStarts(DocumentLike):
    """PostgreSQL: the record's own document (schema.pg_document) has a word starting with
    each of `terms` at its start or after a space: `document ~ '(^| )pa'`. A name field that
    starts with "pa" makes the document match it, since every name field is a column of the
    document (the first one, or one after the ' ' that joins them), so ANDed with the name
    prefixes it changes no result; the trigram index reads it (the padded trigrams "  p",
    " pa" of word starts) together with the long words' trigrams, in the same scan. For
    "an woodb" at 1M contacts the index then gives the 113 rows whose name may start with
    "an" among the 2,325 holding "woodb", instead of all 2,325 read from the table to test
    their names (word_start_terms says which terms it can take)."""

    def __init__(self, source: Source, terms: list[Term]):
        super().__init__(source, terms)

    def as_sql(self, compiler, connection, **extra):
        document, _ = self.document(compiler)
        conds = [f"{document} ~ %s" for _ in self.terms]
        return " AND ".join(conds), ["(^| )" + t.text for t in self.terms]


_WORD_START = re.compile(r"[a-z0-9]+")


def word_start_terms(index: SearchIndex, terms: list[Term]) -> list[Term]:
    """The `terms` DocumentWordStarts can ask of `index`'s own document: words of ASCII
    letters and digits (their trigrams are the ones pg_trgm pads at a word start; a regular
    expression it draws no trigram from would read the whole index), when every name field
    is a text column of the document (else "a name starts with" would not imply it)."""
    text = {c.name for c in index.main.columns if not c.digits}
    if not set(index.name_fields) <= text:
        return []
    return [t for t in terms if not t.phone and _WORD_START.fullmatch(t.text)]


def word_shape(text: str) -> tuple[bool, bool, bool] | None:
    """What the SQL built for a word that is not a phone number depends on besides the word,
    which reaches it only as parameters (rapport.search.statements): whether it is short
    (name prefixes instead of trigrams), made of digits (_useful_variants: asked of a
    document of phone digits), made of ASCII letters and digits (word_start_terms). None
    for digits other than 0-9 (`isdigit()` without the word pattern)."""
    digits, word = text.isdigit(), bool(_WORD_START.fullmatch(text))
    if digits and not word:
        return None
    return len(text) < TRIGRAM, digits, word


def _with_word_starts(index: SearchIndex, terms: list[Term], cond: Q) -> Q:
    """PostgreSQL: `cond` (a condition on the record's own document holding the long words)
    AND the document has a word starting with each of `terms` (DocumentWordStarts) — only
    beside such a condition, which already rules out a NULL document."""
    usable = word_start_terms(index, terms)
    if not usable:
        return cond
    return cond & Q(DocumentWordStarts(sources(index)[0], usable))


def candidate_filters(
    index: SearchIndex,
    source: Source,
    terms: list[Term],
    vendor: str,
    cap: int,
    *,
    capped: bool = False,
) -> list[Q]:
    """Records whose `source` rows match every term, as conditions that stream from the
    index under a LIMIT (typeahead candidates): one per way of asking it, each to be its own
    subquery under its own LIMIT (a phone query on the record's own phone columns is two:
    _pg_where `part`).

    SQLite joins the FTS table (models.py): the first matches cost a few row lookups, where
    `id IN (SELECT rowid …)` collects every match first. PostgreSQL filters the record's own
    table with the indexed expression; for other tables (emails, phones, the account) it
    takes the first `cap` matching rows before visibility, because joining them under a
    LIMIT invites merge-join plans that read whole tables. `capped` (the queryset is not
    narrowed by visibility: its first `cap` matches are as good as any): a record's own
    phone digits are asked the same way, first bucket first (_digits_capped)."""
    if vendor == "sqlite":
        prefix = f"{source.path}__" if source.path else ""
        return [Q(**{f"{prefix}search_document__document__match": _fts_query(terms)})]
    if not source.path:
        return [
            Q(InCapped(F("pk"), *_digits_capped(source.table, terms, cap)))
            if capped and p == "digits"
            else Q(DocumentLike(source, terms, part=p))
            for p in _parts(source.table, terms)
        ]
    return [Q(InCapped(F("pk"), *_source_ids(index, source, terms, vendor, cap=cap)))]


def candidate_filter(
    index: SearchIndex, source: Source, terms: list[Term], vendor: str, cap: int
) -> Q:
    """candidate_filters as one condition (their OR), for words that are not a phone
    number (one way each)."""
    cond = Q()
    for part in candidate_filters(index, source, terms, vendor, cap):
        cond |= part
    return cond


class InCapped(Func):
    """PostgreSQL: `expression = ANY(ARRAY(<capped subquery>))`: the subquery (the first
    `cap` matching rows of another table) runs once, as an InitPlan. Written as
    `IN (subquery)`, the planner may turn it into a semi join that runs the subquery,
    its whole bitmap index scan included, once per row of the outer side (25 times for
    a rep's 25 contacts: 413 ms for a phone fragment at 50k)."""

    output_field = BooleanField()

    def __init__(self, expression, sql: str, params: list):
        super().__init__(expression)
        self.sql, self.params = sql, list(params)

    def as_sql(self, compiler, connection, **extra):
        lhs, lhs_params = compiler.compile(self.source_expressions[0])
        return f"{lhs} = ANY(ARRAY({self.sql}))", (*lhs_params, *self.params)


class AnyOf(Func):
    """PostgreSQL: `expression = ANY(%s)`, the values as one array parameter."""

    output_field = BooleanField()

    def __init__(self, expression, values: list):
        super().__init__(expression)
        self.values = list(values)

    def as_sql(self, compiler, connection, **extra):
        lhs, lhs_params = compiler.compile(self.source_expressions[0])
        return f"{lhs} = ANY(%s)", (*lhs_params, self.values)


def matching_ids_sql(index: SearchIndex, terms: list[Term], vendor: str) -> list[tuple[str, list]]:
    """One (sql, params) per term: each selects the ids of records matching the term in any
    of their sources, so a record whose words are spread over several tables (its name in
    one, an email in another) still matches every term."""
    found = []
    for term in terms:
        parts, params = [], []
        for source in sources(index):
            sql, p = _source_ids(index, source, [term], vendor)
            parts.append(sql)
            params += p
        found.append((" UNION ".join(parts), params))
    return found


# ----- the service -----------------------------------------------------------------------


def index_for(qs: QuerySet) -> SearchIndex | None:
    """The search index of the model of `qs` when its database has one."""
    if connections[qs.db].vendor not in ("sqlite", "postgresql"):
        return None
    if not apps.is_installed("rapport.search"):
        return None
    return BY_MODEL.get(qs.model._meta.label)


def _short_filters(index: SearchIndex, terms: list[Term]) -> Q:
    cond = Q()
    for term in terms:
        if term.short:
            cond &= name_prefix(index, term.text)
    return cond


def search_filter(qs: QuerySet, q: str | None, *, fields: list[str] | None = None) -> QuerySet:
    """`qs` narrowed to the rows matching every word of `q`, through the search index of its
    model; models without one match each word as a substring of any of `fields`."""
    index = index_for(qs)
    terms = parse_query(q, phones=index is not None)
    if not terms:
        return qs
    if index is None:
        return _substring_filter(qs, terms, fields or [])
    vendor = connections[qs.db].vendor
    long_terms = [t for t in terms if not t.short]
    if long_terms:
        all_sources = sources(index)
        if len(all_sources) == 1 and vendor == "postgresql":
            qs = qs.filter(DocumentLike(all_sources[0], long_terms))
        else:
            for sql, params in matching_ids_sql(index, long_terms, vendor):
                qs = qs.filter(pk__in=RawSQL(sql, params))
    return qs.filter(_short_filters(index, terms))


def search_among(qs: QuerySet, q: str | None, ids: list[int]) -> QuerySet:
    """`search_filter(qs.filter(pk__in=ids), q)`, for a few ids (the records a user who sees
    few of them may see: the typeahead's per-user plan), on PostgreSQL written so that every
    source is read through the ids: the record's own row by its primary key, its emails and
    phones by their foreign key, a parent through the records' own foreign key. Nothing is
    cut off before visibility (a capped "first matching rows of the emails table" may all be
    someone else's), and no common fragment reads its whole trigram posting list: the
    planner may still take the text index where it is the more selective."""
    index = index_for(qs)
    if index is None or connections[qs.db].vendor != "postgresql":
        return search_filter(qs.filter(pk__in=ids), q)
    qs = qs.filter(AnyOf(F("pk"), ids))  # one array parameter, however many ids
    terms = parse_query(q)
    if not terms:
        return qs
    for term in (t for t in terms if not t.short):
        cond = Q()
        for source in sources(index):
            cond |= _among_source(index, source, term, ids)
        qs = qs.filter(cond)
    return qs.filter(_short_filters(index, terms))


def _among_source(index: SearchIndex, source: Source, term: Term, ids: list[int]) -> Q:
    """PostgreSQL: the record (one of `ids`) matches `term` in `source` (search_among)."""
    if not source.path:
        return Q(DocumentLike(source, [term], scan=True))
    t = source.table
    digits = [pg_value(c) for c in digits_columns(t)]
    only = len(digits) == len(t.columns)
    where, params = _pg_where(pg_document(t), [term], digits, scan=True, digits_only=only)
    if t.record_column != "id":  # rows under the record: its emails, its phones
        sql = (
            f"SELECT {t.record_column} FROM {t.table} WHERE {t.record_column} = ANY(%s) AND {where}"
        )
        return Q(InCapped(F("pk"), sql, [ids, *params]))
    fk = source.path.split("__")[0]  # the record's parent (an opportunity's account)
    sql = (
        f"SELECT id FROM {t.table} WHERE id IN "
        f"(SELECT {fk}_id FROM {index.main.table} WHERE id = ANY(%s)) AND {where}"
    )
    return Q(InCapped(F(f"{fk}_id"), sql, [ids, *params]))


def _name_starts(index: SearchIndex, terms: list[Term], vendor: str, cap: int) -> Q:
    """A name field starts with the first term and every other term matches the record:
    the best-ranked candidates. A name containing the first word matches it, so on
    PostgreSQL only the other words need the trigram index; SQLite anchors the first word
    at the start of the name columns of the FTS table (^), which keeps the join streaming."""
    if vendor == "sqlite":
        query = _fts_query(terms, starts=index.name_fields)
        return Q(search_document__document__match=query)
    cond = name_prefix(index, terms[0].text)
    if terms[1:]:
        other = candidate_filter(index, sources(index)[0], terms[1:], vendor, cap)
        cond &= _with_word_starts(index, terms[:1], other)
    return cond


def _own_filter(
    index: SearchIndex, source: Source, terms: list[Term], cond: Q, vendor: str, cap: int
) -> Q:
    """A candidate condition `cond` of `source`, with the short terms' word starts on the
    record's own document (PostgreSQL: _with_word_starts). The name prefixes stay beside
    it: without them, where every document has such a word ("co": every ".com" email),
    PostgreSQL rechecked every row holding the long word instead of ANDing the names'
    b-tree ranges (1.7 s for "co man" at 1M contacts, 0.44 s with them). Rows under the
    record that carry its names (emails, phones) take the short terms on themselves: the
    first `cap` such rows whose names start with them (_carried_starts), not the first
    `cap` holding the long words, most of them someone else's name."""
    if vendor != "postgresql":
        return cond
    shorts = [t for t in terms if t.short]
    if source.path and shorts and carried_names(source.table):
        long_terms = [t for t in terms if not t.short]
        return Q(InCapped(F("pk"), *_carried_starts(index, source.table, shorts, long_terms, cap)))
    if source.path:
        return cond
    return _with_word_starts(index, shorts, cond)


def search_candidates(
    qs: QuerySet, q: str | None, *, per_source: int, parts: list[QuerySet] | None = None
) -> RawSQL | None:
    """Ids of at most `per_source` rows of `qs` per way of matching `q` (a union of small
    subqueries, for `pk__in=`): in each indexed source (the record, one of its emails or
    phones, its account) and among the records whose name starts with the first word. None
    when `q` has no words.

    Typeahead ranks these few rows instead of every match: a common trigram matches a large
    part of a big table, and sorting all of it is what made typeahead slow. Unlike
    `search_filter`, words spread over two sources (a contact's name and a secondary email)
    do not match, except for records found through a parent (an account name and a deal
    name, which is how people look up opportunities).

    `parts` (rapport.records.visibility.visible_parts): querysets whose union is `qs`, each
    narrowed by one key; every way of matching is then asked of each part on its own, so
    each subquery is "this grant AND this match", which the database plans from an index
    either way, instead of reading every text match and testing all the grants on it.
    """
    index = index_for(qs)
    terms = parse_query(q, phones=index is not None)
    if index is None or not terms:
        return None
    vendor = connections[qs.db].vendor
    bases = [part.order_by().values("pk") for part in ([qs] if parts is None else parts)]
    if not bases:  # sees nothing
        return RawSQL(f"SELECT id FROM {index.main.table} WHERE 1 = 0", [])
    short = _short_filters(index, terms)
    long_terms = [t for t in terms if not t.short]
    conditions: list[Q] = []
    if not long_terms:
        conditions.append(short)
    else:
        all_sources = sources(index)
        for source in all_sources:
            for cond in candidate_filters(
                index, source, long_terms, vendor, per_source, capped=parts is None
            ):
                conditions.append(
                    short & _own_filter(index, source, terms, cond, vendor, per_source)
                )
        if not terms[0].short and not terms[0].phone:
            conditions.append(short & _name_starts(index, long_terms, vendor, per_source))
    subqueries = [base.filter(cond)[:per_source] for base in bases for cond in conditions]
    if index.through and len(long_terms) > 1:
        subqueries += [search_filter(base, q)[:per_source] for base in bases]
    # Compiled here rather than combined with QuerySet.union(): typeahead builds this on
    # every keystroke, and the ORM's clones cost more than the queries take to run. Each
    # part is a complete SELECT with its own FROM, so its table names cannot capture the
    # outer query's.
    sqls, params = [], []
    for part in subqueries:
        sql, part_params = part.query.get_compiler(using=qs.db).as_sql()
        sqls.append(f"SELECT * FROM ({sql}) AS candidates{len(sqls)}")
        params += part_params
    return RawSQL(" UNION ".join(sqls), params)


def _substring_filter(qs: QuerySet, terms: list[Term], fields: list[str]) -> QuerySet:
    if not fields:
        return qs
    cond = Q()
    for term in terms:
        term_q = Q()
        for field in fields:
            for variant in term.variants:
                term_q |= Q(**{f"{field}__icontains": variant})
        cond &= term_q
    return qs.filter(cond)


@dataclass(frozen=True)
class CandidateBatch:
    """The text candidates of a query without visibility (search_candidates' ways of
    matching, each at most `per_source` rows), as SQL selecting (id, way) rows with UNION
    ALL, so the caller can tell which ways were cut off."""

    sql: str
    params: list
    per_source: int
    # Per way: whether fewer than `per_source` rows proves it returned every match. Not for
    # a parent's way on PostgreSQL (an opportunity found through its account: the accounts
    # are cut off at `per_source`, not their opportunities).
    counted: tuple[bool, ...]
    short: Q  # the short terms' name-prefix conditions, for the caller to apply

    def complete(self, rows: list[tuple[int, int]]) -> bool:
        """Whether `rows` (this batch's result) hold every record matching the query: no
        way was cut off."""
        per_way = [0] * len(self.counted)
        for _, way in rows:
            per_way[way] += 1
        return self.complete_counts(per_way)

    def complete_counts(self, per_way: list[int]) -> bool:
        """`complete`, given how many rows each way returned."""
        return all(
            counted and n < self.per_source
            for counted, n in zip(self.counted, per_way, strict=True)
        )


def _rows_ids(
    index: SearchIndex, source: Source, terms: list[Term], long_terms: list[Term], cap: int
) -> tuple[str, list]:
    """PostgreSQL, candidate_batch: SQL selecting the record ids of at most `cap` rows of
    `source` (rows under the record: its emails, its phones) matching the long terms,
    straight from the source's index, and, when `terms` has short terms, only rows whose
    record's name starts with them, asked of the names the rows carry (_carried_starts).
    Without that check ("an bab": the emails containing "bab", whoever's name starts with
    "an"), the way is cut off at `cap` rows of which few may be the query's matches, so it
    never proved that every match was in; checked on the record instead (a primary-key
    lookup per row the index yields: 2,325 for "woodb" at 1M contacts), it was most of the
    rep's slowest two-word queries."""
    shorts = [t for t in terms if t.short]
    if shorts:
        return _carried_starts(index, source.table, shorts, long_terms, cap)
    sql, params = _source_ids(index, source, long_terms, "postgresql", capped=True)
    return f"{sql} LIMIT {int(cap)}", params


def _carried_starts(
    index: SearchIndex, t: IndexedTable, shorts: list[Term], long_terms: list[Term], cap: int
) -> tuple[str, list]:
    """PostgreSQL: the record ids of at most `cap` rows of `t` (rows carrying their record's
    names, schema.pg_names_sql) that match the long terms and whose carried names start with
    every short term: each name prefix as on the record (name_prefix), and, for the terms
    DocumentWordStarts can take, a word start of the carried names (`~ '(^| )an'`), which
    the prefixes imply and the second column of the rows' trigram index answers together
    with the long terms ("an woodb": the 113 rows of the 2,325 holding "woodb" at 1M
    contacts, none read to be dropped). No phone term here: a phone query is one term."""
    digits = [pg_value(c) for c in digits_columns(t)]
    only = len(digits) == len(t.columns)
    where, params = _pg_where(pg_document(t), long_terms, digits, digits_only=only)
    conds = [where]
    for term in shorts:
        pattern = escape_like(term.text) + "%"
        names = [like_sql(carried_column(f), "postgresql") for f in index.name_fields]
        conds.append("(" + " OR ".join(names) + ")")
        params += [pattern] * len(names)
    for term in word_start_terms(index, shorts):
        conds.append(f"{pg_names_document(t)} ~ %s")
        params.append("(^| )" + term.text)
    sql = f"SELECT {t.record_column} FROM {t.table} WHERE {' AND '.join(conds)}"
    return f"{sql} LIMIT {int(cap)}", params


def candidate_batch(qs: QuerySet, q: str | None, *, per_source: int) -> CandidateBatch | None:
    """The ways of matching of `search_candidates(qs, q, per_source=…)`, each tagged, for a
    queryset without visibility (the index-first typeahead): the caller picks the visible
    ones among the ids, and asks a bigger batch when a way was cut off before enough were
    visible. On PostgreSQL an email or phone way selects the matching rows' record ids
    straight from the index (deleted records and the short terms are the caller's to
    filter, with `short`), so that its count is the index's: fewer than `per_source` means
    every match is in. With short terms, those ways keep only rows whose record's name
    starts with them, from the names the rows carry (_rows_ids), from the first batch on.
    None when `q` has no words."""
    index = index_for(qs)
    terms = parse_query(q, phones=index is not None)
    if index is None or not terms:
        return None
    vendor = connections[qs.db].vendor
    base = qs.order_by().values("pk")
    short = _short_filters(index, terms)
    long_terms = [t for t in terms if not t.short]
    ways: list[tuple[str, list, bool]] = []

    def add(part: QuerySet, counted: bool = True) -> None:
        sql, params = part[:per_source].query.get_compiler(using=qs.db).as_sql()
        ways.append((sql, list(params), counted))

    if not long_terms:
        add(base.filter(short))
    else:
        for source in sources(index):
            if vendor == "postgresql" and source.path and source.table.record_column != "id":
                sql, params = _rows_ids(index, source, terms, long_terms, per_source)
                ways.append((sql, params, True))
            elif (
                vendor == "postgresql"
                and not source.path
                and "digits" in (parts := _parts(source.table, long_terms))
            ):  # a phone term: its digits straight from the index, as the rows ways
                ways.append((*_digits_capped(source.table, long_terms, per_source), True))
                if "text" in parts:
                    add(base.filter(DocumentLike(source, long_terms, part="text")))
            else:
                counted = vendor == "sqlite" or not source.path
                for cond in candidate_filters(index, source, long_terms, vendor, per_source):
                    own = _own_filter(index, source, terms, cond, vendor, per_source)
                    add(base.filter(short & own), counted)
        if not terms[0].short and not terms[0].phone:
            add(base.filter(short & _name_starts(index, long_terms, vendor, per_source)))
    if index.through and len(long_terms) > 1:
        add(search_filter(base, q))
    sqls, params = [], []
    for n, (sql, way_params, _) in enumerate(ways):
        sqls.append(f"SELECT *, {n} AS way FROM ({sql}) AS way{n}")
        params += way_params
    return CandidateBatch(
        " UNION ALL ".join(sqls),
        params,
        per_source,
        tuple(w[2] for w in ways),
        short,
    )
