"""Typeahead statements compiled once per query shape and run again with the query's words.

Building the index-first typeahead statement (rapport.search.selectors: the candidate ways,
the visibility conditions, the rank, the linked names) through the ORM cost ~3 ms of CPU a
keystroke, more than the database took to run it. Its SQL text does not depend on the words
typed, only on their *shape* (how many, which are short, which are digits or plain letters
and digits: `query_shape`); the words reach it as parameters only, in a few forms
(`%word%`, `word%`, `(^| )word`, the words joined by spaces, on SQLite FTS phrases
`"word"`). So the statement is built once with stand-in words of the same shape
(`marker_query`), and each parameter in which a stand-in appears is kept as a template
(`Template`) that the next query of that shape fills with its own words, escaped as the
builders escape them (`escape_like`; an FTS phrase doubles its quotes).

The template is only kept when filling it with the words of the query that built it gives
exactly the statement the ORM built for those words (`Template.check`): the same SQL text,
the same parameters. Phone queries (their digits become n-gram keys, not substrings) and
words of digits other than 0-9 have no shape: they are built every time, as before.
"""

import re
from dataclasses import dataclass

from rapport.search.matching import MAX_WORDS, Term, escape_like, parse_query, word_shape

# Term i's stand-in is made of _LETTERS[i] (or the digit i + 1): no stand-in is a part of
# another one, and none of these letters is in a fixed parameter of the statement (object
# types); Template.check would refuse the template otherwise.
_LETTERS = "jqxzk"
assert len(_LETTERS) >= MAX_WORDS


def query_shape(terms: list[Term]) -> tuple | None:
    """What the SQL text of a typeahead statement depends on in `terms` (each term's
    word_shape), or None when the statement must be built for the words themselves."""
    if not terms or any(t.phone for t in terms):
        return None
    shape = tuple(word_shape(t.text) for t in terms)
    if any(s is None for s in shape):
        return None
    return shape


def _marker(i: int, shape: tuple) -> str:
    short, digits, word = shape
    if digits:
        text = str(i + 1)
    elif word:
        text = _LETTERS[i]
    else:  # neither: a character other than a letter or a digit, like "@" in an email
        return _LETTERS[i] + "@" if short else _LETTERS[i] * 2 + "@" + _LETTERS[i]
    return text * (2 if short else 4)


def marker_query(shape: tuple) -> tuple[str, list[Term]] | None:
    """A query whose words have `shape`, and its terms; None when parse_query does not
    read it as words of that shape (a query of digits only is a phone number)."""
    markers = [_marker(i, s) for i, s in enumerate(shape)]
    q = " ".join(markers)
    terms = parse_query(q)
    if [t.text for t in terms] != markers or query_shape(terms) != shape:
        return None
    return q, terms


def _fill_phrase(text: str) -> str:
    return text.replace('"', '""')


@dataclass(frozen=True)
class Template:
    """A statement built with marker words: its SQL, its parameters, and for each parameter
    holding markers, its pieces (text, or (term number, fill)) to put the words back."""

    sql: str
    params: tuple
    slots: tuple[tuple[int, tuple], ...]

    @classmethod
    def of(cls, sql: str, params: list, markers: list[Term]) -> "Template":
        found = re.compile("|".join(re.escape(t.text) for t in markers))
        number = {t.text: i for i, t in enumerate(markers)}
        slots = []
        for pos, value in enumerate(params):
            if not isinstance(value, str) or not found.search(value):
                continue
            pieces: list = []
            at = 0
            for match in found.finditer(value):
                if match.start() > at:
                    pieces.append(value[at : match.start()])
                quoted = value[match.start() - 1 : match.start()] == '"' == value[match.end() :][:1]
                pieces.append((number[match.group()], _fill_phrase if quoted else escape_like))
                at = match.end()
            if at < len(value):
                pieces.append(value[at:])
            slots.append((pos, tuple(pieces)))
        return cls(sql, tuple(params), tuple(slots))

    def fill(self, terms: list[Term]) -> list:
        """The parameters for `terms` (of the template's shape)."""
        params = list(self.params)
        for pos, pieces in self.slots:
            params[pos] = "".join(
                p if isinstance(p, str) else p[1](terms[p[0]].text) for p in pieces
            )
        return params

    def check(self, sql: str, params: list, terms: list[Term]) -> bool:
        """Whether filling the template with `terms` gives exactly `sql` and `params` (the
        statement the ORM built for them)."""
        return sql == self.sql and self.fill(terms) == list(params)
