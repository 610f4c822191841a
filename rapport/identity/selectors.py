"""Reads for users, teams and tokens."""

from django.db.models import QuerySet

from rapport.identity.models import ApiToken, Team, User


def users_for(user: User) -> QuerySet[User]:
    """Every colleague is listed (names are needed to assign owners); only admins see inactive ones."""
    qs = User.objects.select_related("team")
    return qs if user.is_admin else qs.filter(is_active=True)


def teams_for(user: User) -> QuerySet[Team]:
    return Team.objects.select_related("manager", "parent")


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)
