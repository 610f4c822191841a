"""The portal's own sign-in: magic-link tokens and sessions (never Django's staff session).

Tokens and session keys are random (secrets.token_urlsafe); only their SHA-256 is stored.
The session cookie is PORTAL_COOKIE (HttpOnly, SameSite=Lax, Secure when the staff cookie
is), read by rapport.portal.middleware."""

import datetime
import hashlib
import secrets

from django.conf import settings
from django.utils import timezone

from rapport.portal.models import PortalSession, PortalToken, PortalUser

PORTAL_COOKIE = "rapport_portal"


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def link_minutes() -> int:
    return int(getattr(settings, "RAPPORT_PORTAL_LINK_MINUTES", 30))


def invite_days() -> int:
    return int(getattr(settings, "RAPPORT_PORTAL_INVITE_DAYS", 7))


def session_days() -> int:
    return int(getattr(settings, "RAPPORT_PORTAL_SESSION_DAYS", 14))


def token_issue(*, portal_user: PortalUser, purpose: str, lifetime: datetime.timedelta) -> str:
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    PortalToken.objects.create(
        portal_user=portal_user,
        token_hash=sha256(token),
        purpose=purpose,
        created_at=now,
        expires_at=now + lifetime,
    )
    return token


def token_peek(token: str) -> PortalToken | None:
    """The unused, unexpired token row for `token` (without using it), or None."""
    if not token or len(token) > 100:
        return None
    return (
        PortalToken.objects.select_related("portal_user")
        .filter(
            token_hash=sha256(token),
            used_at=None,
            expires_at__gt=timezone.now(),
            portal_user__is_active=True,
        )
        .first()
    )


def token_consume(token: str) -> PortalUser | None:
    """Use `token` once: an UPDATE … WHERE used_at IS NULL, so two clicks racing sign in
    at most once. None for an unknown, used, expired or changed token."""
    row = token_peek(token)
    if row is None:
        return None
    now = timezone.now()
    taken = PortalToken.objects.filter(pk=row.pk, used_at=None).update(used_at=now)
    if not taken:
        return None
    return row.portal_user


def session_start(portal_user: PortalUser) -> str:
    key = secrets.token_urlsafe(32)
    now = timezone.now()
    PortalSession.objects.create(
        key_hash=sha256(key),
        portal_user=portal_user,
        created_at=now,
        expires_at=now + datetime.timedelta(days=session_days()),
    )
    PortalUser.objects.filter(pk=portal_user.pk).update(last_login_at=now)
    return key


def session_user(key: str | None) -> PortalUser | None:
    if not key or len(key) > 100:
        return None
    row = (
        PortalSession.objects.select_related("portal_user", "portal_user__contact")
        .filter(
            key_hash=sha256(key),
            ended_at=None,
            expires_at__gt=timezone.now(),
            portal_user__is_active=True,
        )
        .first()
    )
    return row.portal_user if row else None


def session_end(key: str | None) -> None:
    if key:
        PortalSession.objects.filter(key_hash=sha256(key), ended_at=None).update(
            ended_at=timezone.now()
        )


def set_cookie(response, key: str) -> None:
    response.set_cookie(
        PORTAL_COOKIE,
        key,
        max_age=session_days() * 86400,
        httponly=True,
        samesite="Lax",
        secure=bool(getattr(settings, "SESSION_COOKIE_SECURE", False)),
        path="/",
    )
