"""How two records are judged alike: normalised comparison values, blocking keys and a score.

Pure functions (no database): the detection job, the merge and the create-time check all
build `Features` from a record's fields, derive its blocking keys (records are compared
only with records sharing a key) and score a pair 0–100 with reasons.

Blocking keys, by kind prefix:
  e:  normalised email (lower case, `+tag` dropped, gmail dots dropped)
  p:  E.164 phone
  n:  name: people by Soundex of the last name + first initial + city; companies by the
      Soundex of the first significant word of the name
  f:  people by first name + initial of the last name + city (typos in the last name)
  c:  company domain + Soundex of the last name (people at the same company)
  d:  company domain (accounts)
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import phonenumbers
from django.conf import settings
from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein

PERSON_TYPES = ("contact", "lead")
OBJECT_TYPES = ("account", "contact", "lead")

# A pair at or above this score is a candidate.
MIN_SCORE = 60

FREE_MAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "outlook.com",
        "outlook.fr",
        "live.com",
        "live.fr",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "gmx.com",
        "web.de",
        "t-online.de",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "laposte.net",
        "sfr.fr",
        "libero.it",
        "yandex.ru",
        "yandex.com",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "fastmail.com",
        "zoho.com",
        "hey.com",
    ]
)
GMAIL = frozenset({"gmail.com", "googlemail.com"})

# Words that do not tell companies apart ("Acme Inc" is "Acme GmbH" is "ACME").
LEGAL_FORMS = frozenset(
    [
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "ltd",
        "limited",
        "llc",
        "llp",
        "plc",
        "lp",
        "gmbh",
        "ag",
        "kg",
        "ohg",
        "ug",
        "sa",
        "sas",
        "sarl",
        "sàrl",
        "srl",
        "spa",
        "bv",
        "nv",
        "oy",
        "ab",
        "as",
        "aps",
        "kk",
        "pty",
        "pte",
        "the",
        "und",
        "and",
        "et",
        "group",
        "holding",
        "holdings",
    ]
)

_NON_WORD = re.compile(r"[^0-9a-z]+")
_E164 = re.compile(r"^\+[1-9]\d{5,14}$")

# Soundex digit of each consonant group (vowels, h, w, y have none).
_SOUNDEX = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


@lru_cache(maxsize=131072)
def fold(text: str | None) -> str:
    """Lower case, accents and punctuation removed, spaces collapsed: "Zoë O'Brien-Smith"
    → "zoe o brien smith"."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", plain).strip()


def soundex(word: str) -> str:
    """American Soundex of a folded word ("robert" and "rupert" → "r163"); "" for none."""
    letters = [ch for ch in word if "a" <= ch <= "z"]
    if not letters:
        return ""
    first = letters[0]
    out = [first]
    last = _SOUNDEX.get(first, "")
    for ch in letters[1:]:
        digit = _SOUNDEX.get(ch, "")
        if digit and digit != last:
            out.append(digit)
            if len(out) == 4:
                break
        if ch not in "hw":  # h and w do not separate equal digits; vowels do
            last = digit
    return "".join(out).ljust(4, "0")


def email_key(email: str | None) -> str:
    """The mailbox an address reaches: lower case, `+tag` dropped, gmail dots dropped."""
    email = (email or "").strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain:
        return ""
    local = local.split("+", 1)[0]
    if domain in GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}" if local else ""


def email_domain(email: str | None) -> str:
    return (email or "").rpartition("@")[2].strip().lower()


@lru_cache(maxsize=65536)
def phone_key(raw: str | None) -> str:
    """E.164 form of a phone number ("" when it is not one); stored numbers already are."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    if _E164.match(raw):
        return raw
    try:
        number = phonenumbers.parse(raw, settings.RAPPORT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=65536)
def domain_key(value: str | None) -> str:
    """A company's domain from a domain, a website or a URL ("https://www.Acme.io/x" →
    "acme.io"); free-mail domains are nobody's company."""
    value = (value or "").strip().lower()
    if not value:
        return ""
    try:
        host = urlsplit(value if "//" in value else f"//{value}").hostname or ""
    except ValueError:  # "http://[x": not an address, so no domain
        return ""
    host = host.removeprefix("www.")
    return "" if host in FREE_MAIL or "." not in host else host


def company_name_key(name: str | None) -> str:
    """A company name without legal forms and punctuation ("ACME, Inc." → "acme")."""
    words = [w for w in fold(name).split() if w not in LEGAL_FORMS]
    return " ".join(words) or fold(name)


@dataclass(slots=True)
class Features:
    """What a record is compared on, normalised once."""

    id: int
    name: str  # folded full name (people) or company name key (accounts)
    first: str = ""
    last: str = ""
    # Tuples, not sets: a million of these must fit in memory (48 bytes against 216).
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    domain: str = ""
    city: str = ""


def person_features(
    *,
    id: int,  # noqa: A002 - the record's id, as everywhere else
    first_name: str | None,
    last_name: str | None,
    emails: list[str] | tuple[str, ...] = (),
    phones: list[str] | tuple[str, ...] = (),
    city: str | None = "",
    company: str | None = "",
) -> Features:
    """Features of a contact or a lead; `company` is a domain or website of their company
    (else the domain of a non-free-mail address is used)."""
    first, last = fold(first_name), fold(last_name)
    email_keys = tuple(dict.fromkeys(k for k in map(email_key, emails) if k))
    domain = domain_key(company)
    if not domain:
        domain = next((d for d in sorted(map(domain_key, map(email_domain, emails))) if d), "")
    return Features(
        id=id,
        name=f"{first} {last}".strip(),
        first=first,
        last=last,
        emails=email_keys,
        phones=tuple(dict.fromkeys(k for k in map(phone_key, phones) if k)),
        domain=domain,
        city=fold(city),
    )


def account_features(
    *,
    id: int,  # noqa: A002
    name: str | None,
    domain: str | None = "",
    website: str | None = "",
    city: str | None = "",
) -> Features:
    return Features(
        id=id,
        name=company_name_key(name),
        domain=domain_key(domain) or domain_key(website),
        city=fold(city),
    )


def blocking_keys(object_type: str, f: Features) -> set[str]:
    """The keys under which the record is filed; two records are compared only when they
    share one."""
    keys: set[str] = set()
    if object_type == "account":
        if f.domain:
            keys.add(f"d:{f.domain}")
        words = f.name.split()
        if words and soundex(words[0]):
            keys.add(f"n:{soundex(words[0])}")
        return keys
    keys.update(f"e:{e}"[:200] for e in f.emails)
    keys.update(f"p:{p}" for p in f.phones)
    last_words = f.last.split()
    code = soundex(last_words[-1]) if last_words else ""
    if code:
        keys.add(f"n:{code}{f.first[:1]}:{f.city}"[:200])
        if f.domain:
            keys.add(f"c:{f.domain}:{code}"[:200])
    if f.first and f.last:
        # A typo that changes the Soundex of the last name ("Kaski"/"Kasik") still meets here.
        keys.add(f"f:{f.first.split()[0]}:{f.last[0]}:{f.city}"[:200])
    return keys


def sort_key(f: Features) -> str:
    """Order inside an oversized block: neighbours are compared (sorted neighbourhood)."""
    return f"{f.last} {f.first} {f.name}"


def _shares(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return any(item in b for item in a)


def _first_names_conflict(a: str, b: str) -> bool:
    """Two given first names that cannot be the same person's (an initial or a prefix, "J"
    or "Jon" for "Jonathan", and near spellings are compatible)."""
    if not a or not b:
        return False
    a, b = a.split()[0], b.split()[0]
    if a.startswith(b) or b.startswith(a):
        return False
    return fuzz.ratio(a, b) < 70


def _first_name_similarity(a: str, b: str) -> float:
    if not a or not b:
        return 80.0  # unknown: neither for nor against
    a, b = a.split()[0], b.split()[0]
    if a == b:
        return 100.0
    if a.startswith(b) or b.startswith(a):
        return 90.0  # "J" or "Jon" for "Jonathan"
    return 100 * DamerauLevenshtein.normalized_similarity(a, b)


def _person_name_similarity(a: Features, b: Features) -> float:
    """First name against first name, last against last (Damerau-Levenshtein: a typo or two
    swapped letters cost one edit), weighted to the last name; or crosswise, for names
    entered the wrong way round. Whole-name token ratios let a shared first name pass for a
    match, and Jaro-Winkler's prefix bonus let "Woodkanebe" pass for "Woodkeebrg"."""

    def pair(first_a: str, last_a: str, first_b: str, last_b: str) -> float:
        last = 100 * DamerauLevenshtein.normalized_similarity(last_a, last_b)
        return 0.4 * _first_name_similarity(first_a, first_b) + 0.6 * last

    return max(pair(a.first, a.last, b.first, b.last), pair(a.last, a.first, b.first, b.last))


def score(object_type: str, a: Features, b: Features) -> tuple[int, list[str]]:
    """How alike two records are, 0–100, with the reasons ("same email", "similar name 92")."""
    reasons: list[str] = []
    if object_type != "account" and a.last and b.last:
        name = _person_name_similarity(a, b)
    else:
        name = fuzz.token_sort_ratio(a.name, b.name) if a.name and b.name else 0
    if name >= 100:
        reasons.append("same name")
    elif name >= 70:
        reasons.append(f"similar name {round(name)}")
    if object_type == "account":
        total = 0.7 * name
        if a.domain and a.domain == b.domain:
            total += 40
            reasons.append("same domain")
    else:
        total = 0.6 * name
        same_email = _shares(a.emails, b.emails)
        if same_email:
            total += 45
            reasons.append("same email")
        elif a.emails and b.emails:
            total -= 5  # both reachable, at different addresses: a little less alike
        if _shares(a.phones, b.phones):
            total += 30
            reasons.append("same phone")
        elif a.phones and b.phones:
            total -= 5
        if a.domain and a.domain == b.domain:
            total += 10
            reasons.append("same company domain")
        if _first_names_conflict(a.first, b.first) and not same_email:
            # Anna and Peter Müller share the switchboard number: not one person.
            total = min(total, MIN_SCORE - 11)
    if a.city and a.city == b.city:
        total += 10
        reasons.append("same city")
    return max(0, min(100, round(total))), reasons
