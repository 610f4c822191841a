"""Writes for users, teams and API tokens."""

import hashlib
import secrets

from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.identity.models import ApiToken, Role, Team, User

TOKEN_PREFIX = "rpt_"


def _digest(secret: str) -> str:
    # Tokens are 256-bit random secrets, so a fast hash is enough (no brute force possible).
    return hashlib.sha256(secret.encode()).hexdigest()


def user_create(
    *,
    username: str,
    email: str = "",
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    role: str = Role.SALES_REP,
    team: Team | None = None,
    validate: bool = True,
) -> User:
    """Create an active user with an Argon2-hashed password (or an unusable one)."""
    if role not in Role.values:
        raise ValidationError({"role": [ValidationError("Unknown role", code="invalid_choice")]})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError(
            {"username": [ValidationError("This username is taken", code="unique")]}
        )
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        role=role,
        team=team,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    if password:
        if validate:
            validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


def user_deactivate(*, user: User) -> None:
    """Deactivate at once: no new logins, every session ended, every token revoked."""
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        # Sessions store the user id inside an encoded blob, so decode to find them.
        doomed = [
            s.session_key
            for s in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
            if str(s.get_decoded().get("_auth_user_id")) == str(user.pk)
        ]
        Session.objects.filter(session_key__in=doomed).delete()


def user_reactivate(*, user: User) -> None:
    user.is_active = True
    user.save(update_fields=["is_active"])


def team_create(*, name: str, manager: User | None = None, parent: Team | None = None) -> Team:
    if Team.objects.filter(name__iexact=name).exists():
        raise ValidationError(
            {"name": [ValidationError("A team with this name exists", code="unique")]}
        )
    return Team.objects.create(name=name, manager=manager, parent=parent)


def team_add_member(*, team: Team, user: User) -> None:
    user.team = team
    user.save(update_fields=["team"])


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; the secret is returned once and only its digest is stored."""
    if not user.is_active:
        raise ValidationError("Deactivated users cannot create tokens", code="inactive_user")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=(name or "API token")[:100], prefix=secret[:12], digest=_digest(secret)
    )
    return token, secret


def api_token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def api_token_authenticate(secret: str) -> User | None:
    """The active user owning this unrevoked token, or None; records the last use."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # Write last-used at most once a minute: a busy token must not write on every call.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
