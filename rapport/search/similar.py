"""Typo tolerance: when the exact search finds nothing, records whose name is close to
the query ("mapel" → "Maple Leaf Traders").

Candidates come from the search index by trigram — rows sharing any trigram of a query
word (SQLite: one FTS5 trigram OR query; PostgreSQL: LIKEs over the indexed document, which
the pg_trgm GIN index serves) — a bounded number, narrowed by the visibility layer like every
search. They are then ranked with rapidfuzz: every query word of three letters or more must
be close to a word of the name (Indel similarity ≥ SIMILARITY, also against the word's
start, so "mapel" finds "Mapleton"). Both backends share the ranking, so they agree.
"""

# ruff: noqa: S608, S611 - table names come from indexes.py; the trigrams are parameters

import re

from django.db import connections
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from rapidfuzz import fuzz

from rapport.search.indexes import SearchIndex
from rapport.search.matching import TRIGRAM, escape_like, index_for, parse_query
from rapport.search.schema import pg_document

SIMILARITY = 75
# Rows read from the index (before visibility) and rows ranked (after it).
CANDIDATE_ROWS = 2000
RANKED_ROWS = 500
_WORD = re.compile(r"\w+")


def _trigrams(words: list[str]) -> list[str]:
    grams: dict[str, None] = {}
    for word in words:
        for i in range(len(word) - TRIGRAM + 1):
            grams[word[i : i + TRIGRAM]] = None
    return list(grams)


def _candidate_ids(index: SearchIndex, grams: list[str], vendor: str) -> tuple[str, list]:
    t = index.main
    if vendor == "sqlite":
        query = " OR ".join('"' + g.replace('"', '""') + '"' for g in grams)
        return f"SELECT rowid FROM {t.fts} WHERE {t.fts} MATCH %s LIMIT {CANDIDATE_ROWS}", [query]
    document = pg_document(t)
    where = " OR ".join(f"{document} LIKE %s" for _ in grams)
    params = ["%" + escape_like(g) + "%" for g in grams]
    return f"SELECT id FROM {t.table} WHERE {where} LIMIT {CANDIDATE_ROWS}", params


def closeness(words: list[str], name: str) -> float | None:
    """How close `name` is to the query words (higher is closer); None when a word is not
    close to any word of the name."""
    name_words = _WORD.findall(name.lower())
    if not name_words:
        return None
    total = 0.0
    for word in words:
        best = max(max(fuzz.ratio(word, w), fuzz.ratio(word, w[: len(word)])) for w in name_words)
        if best < SIMILARITY:
            return None
        total += best
    return total


def similar_rows(qs: QuerySet, q: str | None, *, rows, name) -> list[dict]:
    """Rows of `qs` (already narrowed to what the user may see), as `rows(qs)` reads them
    into dicts, whose `name(row)` is close to every word of `q`, closest first. Phone-like queries and words under three letters
    get no fuzzy matching (nothing to be close to)."""
    index = index_for(qs)
    terms = [t for t in parse_query(q) if not t.phone and not t.short]
    if index is None or not terms:
        return []
    words = [t.text for t in terms]
    vendor = connections[qs.db].vendor
    sql, params = _candidate_ids(index, _trigrams(words), vendor)
    scored = []
    for row in rows(qs.filter(pk__in=RawSQL(sql, params)))[:RANKED_ROWS]:
        score = closeness(words, name(row))
        if score is not None:
            scored.append((-score, name(row).lower(), row["id"], row))
    scored.sort(key=lambda item: item[:3])
    return [row for *_, row in scored]
