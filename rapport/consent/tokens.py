"""The signed links of permission marketing: double opt-in confirmation, one-click
unsubscribe (RFC 8058) and the preference centre. Each kind has its own salt (a token of one
kind is refused by the others) and its own lifetime; a changed or expired token is refused.
Only the SHA-256 of a confirmation token is stored (on the ledger), never the token."""

import functools
import hashlib
import secrets

from django.conf import settings
from django.core import signing
from django.urls import get_script_prefix, get_urlconf, reverse

CONFIRM_SALT = "rapport.consent.confirm"
UNSUBSCRIBE_SALT = "rapport.consent.unsubscribe"
PREFERENCES_SALT = "rapport.consent.preferences"


class BadToken(Exception):
    """A link that was changed, is of another kind, or has expired; the message says which."""


def confirm_max_age() -> int:
    return int(getattr(settings, "RAPPORT_CONSENT_CONFIRM_DAYS", 7)) * 86400


def link_max_age() -> int:
    """Unsubscribe and preference links live as long as a mail may sit in an inbox."""
    return int(getattr(settings, "RAPPORT_CONSENT_LINK_DAYS", 365)) * 86400


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _dumps(payload: dict, salt: str) -> str:
    return signing.dumps(payload, salt=salt, compress=True)


def _loads(token: str, salt: str, max_age: int) -> dict:
    try:
        payload = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise BadToken("This link has expired.") from exc
    except signing.BadSignature as exc:
        raise BadToken("This link is not valid (it may have been cut or changed).") from exc
    if not isinstance(payload, dict):
        raise BadToken("This link is not valid.")
    return payload


def person_ref(*, contact_id: int | None, lead_id: int | None) -> str:
    return f"c{contact_id}" if contact_id else f"l{lead_id}"


def parse_person_ref(ref) -> tuple[int | None, int | None]:
    if not isinstance(ref, str) or len(ref) < 2 or ref[0] not in "cl" or not ref[1:].isdigit():
        raise BadToken("This link is not valid.")
    value = int(ref[1:])
    return (value, None) if ref[0] == "c" else (None, value)


def make_confirm_token(*, person: str, purpose_id: int, channel: str) -> str:
    """A fresh confirmation token (a random nonce makes every opt-in's token different)."""
    return _dumps(
        {"p": person, "u": purpose_id, "ch": channel, "n": secrets.token_hex(8)}, CONFIRM_SALT
    )


def read_confirm_token(token: str) -> dict:
    return _loads(token, CONFIRM_SALT, confirm_max_age())


def make_unsubscribe_token(*, address: str, purpose_id: int) -> str:
    return _dumps({"a": address.lower(), "u": purpose_id}, UNSUBSCRIBE_SALT)


def read_unsubscribe_token(token: str) -> dict:
    payload = _loads(token, UNSUBSCRIBE_SALT, link_max_age())
    if not isinstance(payload.get("a"), str) or not isinstance(payload.get("u"), int):
        raise BadToken("This link is not valid.")
    return payload


def make_preferences_token(*, person: str, address: str = "") -> str:
    return _dumps({"p": person, "a": address.lower()}, PREFERENCES_SALT)


def read_preferences_token(token: str) -> dict:
    payload = _loads(token, PREFERENCES_SALT, link_max_age())
    parse_person_ref(payload.get("p"))
    return payload


def absolute(path: str) -> str:
    base = getattr(settings, "RAPPORT_BASE_URL", "").rstrip("/")
    return f"{base}{path}"


_PLACEHOLDER = "rapport0token0placeholder"


@functools.lru_cache(maxsize=64)
def _url_around_token(name: str, base: str, urlconf, script_prefix: str) -> tuple[str, str]:
    before, _, after = reverse(name, args=[_PLACEHOLDER], urlconf=urlconf).partition(_PLACEHOLDER)
    return base.rstrip("/") + before, after


def absolute_url(name: str, token: str) -> str:
    """`absolute(reverse(name, args=[token]))` for a signed token (URL-safe characters), with
    the route reversed once per configuration: a campaign batch writes thousands of links and
    `reverse` cost more than the signing (bench/bench_campaign_send.py)."""
    before, after = _url_around_token(
        name,
        getattr(settings, "RAPPORT_BASE_URL", ""),
        get_urlconf() or settings.ROOT_URLCONF,
        get_script_prefix(),
    )
    return f"{before}{token}{after}"
