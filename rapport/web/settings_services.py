"""Writes of the settings pages that no domain app offers yet: a user's role and team, a
team's manager and parent, the organisation-wide default of an object, deleting a custom
field and moving a stage. Each checks that the actor is an administrator.

The lead may move these next to their models (identity.services, records.services,
sales.services) — the pages only import them from here.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from rapport.identity.models import Role, Team, User
from rapport.records.exceptions import PermissionDenied
from rapport.records.models import Access, CustomFieldDefinition, ObjectType, OrgDefault
from rapport.sales.models import Stage
from rapport.sales.services import stage_update


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


def org_default_set(*, object_type: str, access: str, actor: User) -> OrgDefault:
    """Set who sees an object's records by default (the API's PUT /org-defaults does the
    same update_or_create)."""
    require_settings_admin(actor)
    if object_type not in ObjectType.values:
        raise _field_error("object_type", "Unknown object", "invalid_choice")
    if access not in Access.values:
        raise _field_error("access", "Unknown access level", "invalid_choice")
    with transaction.atomic():
        row, _ = OrgDefault.objects.update_or_create(
            object_type=object_type, defaults={"access": access}
        )
    return row


def custom_field_delete(*, definition: CustomFieldDefinition, actor: User) -> None:
    """Remove a custom field's definition (admins only). Values already stored stay in the
    records' JSON but are no longer shown, validated or filterable."""
    require_settings_admin(actor)
    with transaction.atomic():
        CustomFieldDefinition.objects.filter(pk=definition.pk).delete()


def stage_move(*, stage: Stage, offset: int, actor: User) -> bool:
    """Move a stage up (-1) or down (+1) in its pipeline; the stages are renumbered 1…n in
    the new order through `stage_update`. Returns whether it moved."""
    require_settings_admin(actor)
    with transaction.atomic():
        stages = list(
            Stage.objects.filter(pipeline_id=stage.pipeline_id).order_by("position", "id")
        )
        index = next(i for i, s in enumerate(stages) if s.pk == stage.pk)
        target = index + offset
        if offset not in (-1, 1) or not 0 <= target < len(stages):
            return False
        stages[index], stages[target] = stages[target], stages[index]
        for position, item in enumerate(stages, start=1):
            if item.position != position:
                stage_update(stage=item, actor=actor, fields={"position": position})
    return True
