"""Who may look at or set which forecast scope and quota.

A rep: their own numbers. A manager: themselves and every user and team below the teams they
manage. A territory manager: their territories (and those below). An admin: everything.
Deals inside a scope are always narrowed by the one visibility layer on top of this."""

from dataclasses import dataclass

from django.db.models import Q

from rapport.identity.models import Team, User
from rapport.records.exceptions import PermissionDenied, RecordNotFound
from rapport.records.visibility import managed_team_ids
from rapport.territories.access import managed_territory_ids
from rapport.territories.models import Territory, TerritoryMembership


@dataclass(frozen=True)
class Scope:
    kind: str  # "user", "team", "territory", "all"
    pk: int | None
    label: str

    @property
    def key(self) -> str:
        return self.kind if self.pk is None else f"{self.kind}:{self.pk}"


def _below(rows, root: int) -> list[int]:
    """`root` and every id below it, from (id, parent_id) rows."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in rows:
        children.setdefault(parent_id, []).append(pk)
    out, stack = [], [root]
    while stack:
        pk = stack.pop()
        out.append(pk)
        stack.extend(children.get(pk, []))
    return out


def _team_tree(team_id: int) -> list[int]:
    return _below(Team.objects.values_list("id", "parent_id"), team_id)


def _territory_tree(territory_id: int) -> list[int]:
    return _below(Territory.objects.values_list("id", "parent_id"), territory_id)


def may_see_user(viewer: User, user_id: int, team_id: int | None) -> bool:
    return viewer.is_admin or user_id == viewer.pk or team_id in managed_team_ids(viewer)


def may_see_team(viewer: User, team_id: int) -> bool:
    return viewer.is_admin or team_id in managed_team_ids(viewer)


def may_see_territory(viewer: User, territory_id: int) -> bool:
    return viewer.is_admin or territory_id in managed_territory_ids(viewer)


def resolve_scope(viewer: User, key: str | None) -> Scope:
    """The scope named by `key` ("me", "user:5", "team:2", "territory:3", "all"); a scope the
    viewer may not look at is not found (404), a malformed key is a 422 on `scope`."""
    from django.core.exceptions import ValidationError

    text = (key or "me").strip()
    if text == "me":
        return Scope("user", viewer.pk, "Me")
    if text == "all":
        return Scope("all", None, "Everything you can see")
    kind, _, raw = text.partition(":")
    if kind not in ("user", "team", "territory") or not raw.isdigit() or len(raw) > 12:
        raise ValidationError(
            {"scope": ["Use me, all, user:<id>, team:<id> or territory:<id>"]},
            code="invalid_scope",
        )
    pk = int(raw)
    if kind == "user":
        row = (
            User.objects.filter(pk=pk)
            .values_list("team_id", "username", "first_name", "last_name")
            .first()
        )
        if row is None or not may_see_user(viewer, pk, row[0]):
            raise RecordNotFound("user")
        name = f"{row[2]} {row[3]}".strip() or row[1]
        return Scope("user", pk, "Me" if pk == viewer.pk else name)
    if kind == "team":
        name = Team.objects.filter(pk=pk).values_list("name", flat=True).first()
        if name is None or not may_see_team(viewer, pk):
            raise RecordNotFound("team")
        return Scope("team", pk, name)
    name = Territory.objects.filter(pk=pk).values_list("name", flat=True).first()
    if name is None or not may_see_territory(viewer, pk):
        raise RecordNotFound("territory")
    return Scope("territory", pk, name)


def scope_filter(scope: Scope) -> Q:
    """The opportunities a scope covers (before visibility)."""
    if scope.kind == "user":
        return Q(owner_id=scope.pk)
    if scope.kind == "team":
        return Q(team_id__in=_team_tree(scope.pk))
    if scope.kind == "territory":
        placed = TerritoryMembership.objects.filter(
            object_type="account", territory_id__in=_territory_tree(scope.pk)
        ).values("object_id")
        return Q(account_id__in=placed)
    return Q()


def scope_choices(viewer: User) -> list[tuple[str, str]]:
    """The scopes the viewer may pick on the page, themselves first."""
    out = [("me", "Me")]
    if viewer.is_admin:
        teams = Team.objects.all()
        territories = Territory.objects.all()
    else:
        teams = Team.objects.filter(pk__in=managed_team_ids(viewer))
        territories = Territory.objects.filter(pk__in=managed_territory_ids(viewer))
    out += [(f"team:{t.pk}", f"Team {t.name}") for t in teams.order_by("name")]
    out += [(f"territory:{t.pk}", f"Territory {t.name}") for t in territories.order_by("name")]
    out.append(("all", "Everything you can see"))
    return out


def require_quota_setter(actor: User, *, user=None, team=None, territory=None) -> None:
    """Admins set every quota; a manager sets those of the users and teams below the teams
    they manage (not their own); a territory manager those of their territories."""
    if actor.is_read_only:
        raise PermissionDenied("Read-only users cannot set quotas")
    if actor.is_admin:
        return
    managed = managed_team_ids(actor)
    if user is not None and user.pk != actor.pk and user.team_id in managed:
        return
    if team is not None and team.pk in managed and team.manager_id != actor.pk:
        return
    if territory is not None and territory.pk in managed_territory_ids(actor):
        return
    raise PermissionDenied("Only admins and the managers above may set this quota")


def quotas_visible_q(viewer: User) -> Q:
    """Quotas a viewer may read: their own, their managed users', teams' and territories'."""
    if viewer.is_admin:
        return Q()
    managed = managed_team_ids(viewer)
    q = Q(user_id=viewer.pk) | Q(user__team_id__in=managed) | Q(team_id__in=managed)
    territories = managed_territory_ids(viewer)
    if territories:
        q |= Q(territory_id__in=territories)
    return q
