"""REST endpoints for the signed-in user, their API tokens, users and teams."""

import datetime

from django.core.exceptions import ValidationError
from ninja import Field, Router, Schema, Status

from rapport.identity import selectors, services
from rapport.identity.models import Role
from rapport.records.api import ERRORS
from rapport.records.exceptions import PermissionDenied, RecordNotFound

router = Router(tags=["identity"])


class UserOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    role: str
    team_id: int | None
    is_active: bool


class UserIn(Schema):
    username: str = Field(..., min_length=1, max_length=150, pattern=r"^[\w.@+-]+$")
    email: str = Field("", max_length=254)
    first_name: str = Field("", max_length=150)
    last_name: str = Field("", max_length=150)
    password: str | None = Field(None, min_length=1, max_length=200)
    role: Role = Role.SALES_REP
    team_id: int | None = None


class TeamOut(Schema):
    id: int
    name: str
    parent_id: int | None
    manager_id: int | None


class TeamIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    parent_id: int | None = None
    manager_id: int | None = None


class TokenIn(Schema):
    name: str = Field("API token", min_length=1, max_length=100)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None
    revoked_at: datetime.datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(..., description="The secret; shown only once")


def _require_admin(user) -> None:
    if not user.is_admin:
        raise PermissionDenied("Only administrators may manage users and teams", code="admin_only")


@router.get("/me", response=UserOut, operation_id="me_get", tags=["identity"])
def me(request):
    return request.user


@router.get("/me/tokens", response=list[TokenOut], operation_id="tokens_list")
def tokens_list(request):
    return list(selectors.api_tokens_of(request.user))


@router.post("/me/tokens", response={201: TokenCreatedOut, **ERRORS}, operation_id="token_create")
def token_create(request, payload: TokenIn):
    token, secret = services.api_token_create(user=request.user, name=payload.name)
    return Status(201, {**TokenOut.from_orm(token).dict(), "token": secret})


@router.delete("/me/tokens/{int:pk}", response={204: None, **ERRORS}, operation_id="token_revoke")
def token_revoke(request, pk: int):
    token = selectors.api_tokens_of(request.user).filter(pk=pk).first()
    if token is None:
        raise RecordNotFound("token")
    services.api_token_revoke(token=token)
    return Status(204, None)


@router.get("/users", response=list[UserOut], operation_id="users_list")
def users_list(request, team_id: int | None = None):
    qs = selectors.users_for(request.user)
    return list(qs.filter(team_id=team_id) if team_id is not None else qs)


@router.post("/users", response={201: UserOut, **ERRORS}, operation_id="user_create")
def user_create(request, payload: UserIn):
    _require_admin(request.user)
    team = None
    if payload.team_id is not None:
        team = selectors.teams_for(request.user).filter(pk=payload.team_id).first()
        if team is None:
            raise ValidationError(
                {"team_id": [ValidationError("No team with this id", code="invalid_team")]}
            )
    data = payload.dict(exclude={"team_id"})
    return Status(201, services.user_create(team=team, **data))


@router.post(
    "/users/{int:pk}/deactivate", response={200: UserOut, **ERRORS}, operation_id="user_deactivate"
)
def user_deactivate(request, pk: int):
    _require_admin(request.user)
    user = selectors.users_for(request.user).filter(pk=pk).first()
    if user is None:
        raise RecordNotFound("user")
    if user.pk == request.user.pk:
        raise ValidationError("You cannot deactivate yourself", code="self_deactivation")
    services.user_deactivate(user=user)
    return user


@router.get("/teams", response=list[TeamOut], operation_id="teams_list")
def teams_list(request):
    return list(selectors.teams_for(request.user))


@router.post("/teams", response={201: TeamOut, **ERRORS}, operation_id="team_create")
def team_create(request, payload: TeamIn):
    _require_admin(request.user)
    parent = manager = None
    if payload.parent_id is not None:
        parent = selectors.teams_for(request.user).filter(pk=payload.parent_id).first()
        if parent is None:
            raise ValidationError(
                {"parent_id": [ValidationError("No team with this id", code="invalid_team")]}
            )
    if payload.manager_id is not None:
        manager = (
            selectors.users_for(request.user).filter(pk=payload.manager_id, is_active=True).first()
        )
        if manager is None:
            raise ValidationError(
                {
                    "manager_id": [
                        ValidationError("No active user with this id", code="invalid_user")
                    ]
                }
            )
    return Status(201, services.team_create(name=payload.name, parent=parent, manager=manager))
