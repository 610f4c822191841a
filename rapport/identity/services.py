"""Writes for users, teams and API tokens, and the administrators' changes to them (roles,
teams, the team hierarchy)."""

import hashlib
import secrets

from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.identity.models import ApiToken, Role, Team, User
from rapport.records.exceptions import PermissionDenied
from rapport.records.prepared import Prepared

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
        api_tokens_revoke_all(user=user)
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


def api_tokens_revoke_all(*, user: User) -> int:
    """Revoke every live token of the user; returns how many were live."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def user_password_set(*, user: User, password: str) -> int:
    """Set a new (already validated) password and revoke the user's API tokens, as Django ends
    their other sessions: whoever knew the old password may have made a token with it. Returns
    how many tokens were revoked."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        return api_tokens_revoke_all(user=user)


# Every API request asks this (its SQL compiled once: the ORM's compilation was ~0.9 ms of
# the ~1 ms of CPU the lookup cost a request).
_TOKEN_BY_DIGEST = Prepared(
    lambda digest: ApiToken.objects.select_related("user").filter(
        digest=digest, revoked_at__isnull=True, user__is_active=True
    )[:1],
    1,
)


def api_token_authenticate(secret: str) -> User | None:
    """The active user owning this unrevoked token, or None; records the last use."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    tokens = _TOKEN_BY_DIGEST(_digest(secret))
    if not tokens:
        return None
    token = tokens[0]
    now = timezone.now()
    # Write last-used at most once a minute: a busy token must not write on every call.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# ----- administration (the settings pages) ------------------------------------------


def _field_error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def require_settings_admin(actor: User) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only administrators may change settings", code="admin_only")


def can_view_settings(user: User) -> bool:
    """Administrators change the settings; managers may read them."""
    return user.is_admin or (user.is_active and user.role == Role.MANAGER)


def _other_active_admins(user: User) -> bool:
    return (
        User.objects.filter(is_active=True, role=Role.ADMIN).exclude(pk=user.pk).exists()
        or User.objects.filter(is_active=True, is_superuser=True).exclude(pk=user.pk).exists()
    )


def user_set_role(*, user: User, role: str, actor: User) -> bool:
    """Give the user another role (admins only). An administrator keeps their own role and
    the last active administrator stays one. Returns whether it changed."""
    require_settings_admin(actor)
    if role not in Role.values:
        raise _field_error("role", "Unknown role", "invalid_choice")
    if role == user.role:
        return False
    if user.pk == actor.pk:
        raise _field_error("role", "You cannot change your own role", "own_role")
    if user.is_admin and role != Role.ADMIN and not _other_active_admins(user):
        raise _field_error("role", "Keep at least one active administrator", "last_admin")
    with transaction.atomic():
        user.role = role
        # Django's admin site and the `is_admin` check follow the role.
        user.is_staff = user.is_superuser = role == Role.ADMIN
        user.save(update_fields=["role", "is_staff", "is_superuser"])
    return True


def user_set_team(*, user: User, team: Team | None, actor: User) -> None:
    """Move the user to another team, or to none (admins only)."""
    require_settings_admin(actor)
    with transaction.atomic():
        user.team = team
        user.save(update_fields=["team"])


def _descendant_ids(team: Team) -> set[int]:
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Team.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found: set[int] = set()
    todo = [team.pk]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def team_update(
    *, team: Team, actor: User, name: str, manager: User | None, parent: Team | None
) -> Team:
    """Rename a team, set its manager and its parent (admins only); a team is never below
    itself (no cycles in the hierarchy managers see down)."""
    require_settings_admin(actor)
    name = (name or "").strip()
    if not name:
        raise _field_error("name", "A team needs a name", "required")
    if Team.objects.filter(name__iexact=name).exclude(pk=team.pk).exists():
        raise _field_error("name", "A team with this name exists", "unique")
    if parent is not None and (parent.pk == team.pk or parent.pk in _descendant_ids(team)):
        raise _field_error("parent", "A team cannot sit below itself", "team_cycle")
    if manager is not None and not manager.is_active:
        raise _field_error("manager", "The manager is deactivated", "inactive_user")
    with transaction.atomic():
        team.name, team.manager, team.parent = name, manager, parent
        team.save(update_fields=["name", "manager", "parent"])
    return team
