"""What territory management adds to the one visibility layer (`records.visibility`): a
manager of a territory reads the accounts and leads placed in it and in every territory
below it, and the contacts and opportunities of those accounts. Read access only: editing,
transferring and sharing stay with the owner, their managers and shares."""

from django.db.models import Q

from rapport.territories.models import MemberRole, Territory, TerritoryMember, TerritoryMembership

MANAGERS_KEY = "rapport:territory-managers"
MANAGERS_TTL = 300  # seconds: the bound on staleness where the cache is per process (locmem)


def territory_manager_ids() -> frozenset[int]:
    """Users who manage at least one territory, from the cache: every visibility check asks,
    and the answer is almost always "not this user", which must not cost a query per
    request. Invalidated by every change of members (Redis: at once; a per-process locmem
    cache: within MANAGERS_TTL)."""
    from django.core.cache import cache

    ids = cache.get(MANAGERS_KEY)
    if ids is None:
        ids = frozenset(
            TerritoryMember.objects.filter(role=MemberRole.MANAGER).values_list(
                "user_id", flat=True
            )
        )
        cache.set(MANAGERS_KEY, ids, MANAGERS_TTL)
    return ids


def forget_managers() -> None:
    from django.core.cache import cache

    cache.delete(MANAGERS_KEY)


def managed_territory_ids(user) -> frozenset[int]:
    """Territories the user manages, with every territory below them (cached on the user
    object, i.e. once per request)."""
    cached = getattr(user, "_rapport_managed_territories", None)
    if cached is not None:
        return cached
    if user.pk not in territory_manager_ids():
        user._rapport_managed_territories = frozenset()
        return user._rapport_managed_territories
    roots = list(
        TerritoryMember.objects.filter(user_id=user.pk, role=MemberRole.MANAGER).values_list(
            "territory_id", flat=True
        )
    )
    result: set[int] = set()
    if roots:
        children: dict[int | None, list[int]] = {}
        for pk, parent_id in Territory.objects.values_list("id", "parent_id"):
            children.setdefault(parent_id, []).append(pk)
        stack = list(roots)
        while stack:
            pk = stack.pop()
            if pk not in result:
                result.add(pk)
                stack.extend(children.get(pk, []))
    user._rapport_managed_territories = frozenset(result)
    return user._rapport_managed_territories


def territory_grant(object_type: str, user) -> Q | None:
    """The grant of territory managers for one object type, or None when the user manages
    no territory (no extra subquery for everyone else)."""
    ids = managed_territory_ids(user)
    if not ids:
        return None
    if object_type in ("account", "lead"):
        placed = TerritoryMembership.objects.filter(
            object_type=object_type, territory_id__in=ids
        ).values("object_id")
        return Q(pk__in=placed)
    if object_type in ("contact", "opportunity"):
        placed = TerritoryMembership.objects.filter(
            object_type="account", territory_id__in=ids
        ).values("object_id")
        return Q(account_id__in=placed)
    return None
