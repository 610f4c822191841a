"""Who sees what: the one place that decides record visibility.

Organisation-wide default per object type, then grants: the owner; managers of
the record's team and of every team above it; explicit shares with the user or
one of their teams; admins see everything. Every read path (API, UI, search,
export, reports) filters through `visible()`; every write checks `editable()`.
Not visible means 404, never 403.
"""

from functools import lru_cache

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    ExpressionWrapper,
    F,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.lookups import IsNull

from rapport.identity.models import Team, User
from rapport.records.models import Access, OrgDefault, RecordShare, ShareAccess


def managed_team_ids(user: User) -> frozenset[int]:
    """Teams the user manages, with every team below them (cached on the user object)."""
    cached = getattr(user, "_rapport_managed_teams", None)
    if cached is not None:
        return cached
    rows = _visibility_settings(user)[1]
    children: dict[int | None, list[int]] = {}
    for team_id, parent_id, _ in rows:
        children.setdefault(parent_id, []).append(team_id)
    result: set[int] = set()
    stack = [team_id for team_id, _, manager_id in rows if manager_id == user.pk]
    while stack:
        team_id = stack.pop()
        if team_id not in result:
            result.add(team_id)
            stack.extend(children.get(team_id, []))
    user._rapport_managed_teams = frozenset(result)
    return user._rapport_managed_teams


def member_team_ids(user: User) -> frozenset[int]:
    """Teams whose shares reach the user: their own team and the teams they manage."""
    own = {user.team_id} if user.team_id else set()
    return frozenset(own | managed_team_ids(user))


def org_default(object_type: str, user: User | None = None) -> str:
    """The object type's organisation-wide default; with a user, read once per user object
    (that is, once per request) for all object types together."""
    if user is None:
        row = OrgDefault.objects.filter(object_type=object_type).values_list("access", flat=True)
        return next(iter(row), Access.PRIVATE)
    return _visibility_settings(user)[0].get(object_type, Access.PRIVATE)


def _visibility_settings(user: User) -> tuple[dict[str, str], list[tuple]]:
    """The org defaults ({object type: access}) and the team tree ([(id, parent_id,
    manager_id)]), read together in ONE statement once per user object (that is, once per
    request): every non-admin request needs both, and each was a round trip of its own."""
    cached = getattr(user, "_rapport_visibility_settings", None)
    if cached is None:
        no_text, no_id = (
            Value(None, output_field=CharField()),
            Value(None, output_field=IntegerField()),
        )
        defaults = OrgDefault.objects.order_by().values_list(
            Value(0, output_field=IntegerField()), "object_type", "access", no_id, no_id, no_id
        )
        teams = Team.objects.order_by().values_list(
            Value(1, output_field=IntegerField()), no_text, no_text, "id", "parent_id", "manager_id"
        )
        org_defaults: dict[str, str] = {}
        team_rows: list[tuple] = []
        for kind, object_type, access, team_id, parent_id, manager_id in defaults.union(
            teams, all=True
        ):
            if kind == 0:
                org_defaults[object_type] = access
            else:
                team_rows.append((team_id, parent_id, manager_id))
        cached = user._rapport_visibility_settings = (org_defaults, team_rows)
    return cached


def _grant_parts(object_type: str, user: User, *, edit: bool) -> list[Q]:
    """The grants one by one: owner, managed teams (when any), managed territories (when
    any, read only), shares (always last: `visible_parts` may drop it). What they read of
    the user and the settings is `visibility_key`'s: a new input goes there too."""
    parts = [Q(owner_id=user.pk)]
    teams = managed_team_ids(user)
    if teams:
        parts.append(Q(team_id__in=teams))
    if not edit:
        # Territory managers read their territories' records (rapport/territories/access.py).
        from rapport.territories.access import territory_grant

        territory = territory_grant(object_type, user)
        if territory is not None:
            parts.append(territory)
    shares = RecordShare.objects.filter(object_type=object_type).filter(
        Q(user_id=user.pk) | Q(team_id__in=member_team_ids(user))
    )
    if edit:
        shares = shares.filter(access=ShareAccess.EDIT)
    parts.append(Q(pk__in=shares.values("object_id")))
    return parts


def _grants(object_type: str, user: User, *, edit: bool) -> Q:
    q = Q()
    for part in _grant_parts(object_type, user, edit=edit):
        q |= part
    return q


def _object_type(qs: QuerySet) -> str:
    object_type = getattr(qs.model, "OBJECT_TYPE", "")
    if not object_type:
        raise TypeError(f"{qs.model.__name__} is not an owned record")
    return object_type


def visible(qs: QuerySet, user: User | None) -> QuerySet:
    """Narrow `qs` (of an owned record model) to the rows `user` may read."""
    if reads_nothing(user):
        return qs.none()
    if user.is_admin:
        return qs
    object_type = _object_type(qs)
    if org_default(object_type, user) in (Access.PUBLIC_READ, Access.PUBLIC_READ_WRITE):
        return qs
    return qs.filter(_grants(object_type, user, edit=False))


def reads_nothing(user: User | None) -> bool:
    """Whether `user` may read no record at all (anonymous or deactivated): `visible()` is
    empty and `visible_parts()` is `[]` for every model, without reading any setting."""
    return user is None or not user.is_authenticated or not user.is_active


def visibility_key(user: User | None) -> tuple:
    """Everything the SQL of `visible()`, `visible_parts()` and `visible_expr()` for `user`
    depends on besides the tables those statements read when they run (the records, the
    shares, the territory placements): two users with equal keys get the same SQL and
    parameters from them, whatever the model. A statement compiled with these conditions
    can be kept under this key and run again (the typeahead's index-first statement,
    rapport.search.selectors._IndexFirst); a change of a user's team, managed teams or
    territories, or of an org default, changes the key. A new input of the grants must be
    added here. Reads what `visible()` reads (the settings, once per request)."""
    if reads_nothing(user):
        return ("nothing",)
    if user.is_admin:
        return ("admin",)
    from rapport.territories.access import managed_territory_ids

    return (
        "grants",
        user.pk,
        user.team_id,
        tuple(sorted(managed_team_ids(user))),
        tuple(sorted(managed_territory_ids(user))),
        tuple(sorted(_visibility_settings(user)[0].items())),
    )


def visible_parts(qs: QuerySet, user: User | None) -> list[QuerySet]:
    """`visible(qs, user)` as querysets whose union is exactly it, each narrowed by ONE grant
    (the owner; the managed teams; the shares): `[qs]` when the user sees every row, `[]`
    when none. For queries under a LIMIT that must start from another index (search): the
    ORed grants of `visible()` (one of them a subquery) cannot be an index condition, so
    PostgreSQL read every text match and tested each against all the grants, whereas
    `owner_id = … AND <match>` is planned from whichever index is more selective."""
    if reads_nothing(user):
        return []
    if user.is_admin:
        return [qs]
    object_type = _object_type(qs)
    if org_default(object_type, user) in (Access.PUBLIC_READ, Access.PUBLIC_READ_WRITE):
        return [qs]
    parts = _grant_parts(object_type, user, edit=False)
    if object_type not in _shared_types(user):
        parts = parts[:-1]  # the shares' part would be empty: one subquery less per match
    return [qs.filter(part) for part in parts]


def _shared_types(user: User) -> frozenset[str]:
    """Object types with at least one record shared with the user or one of their teams,
    read once per user object (that is, once per request), like the org defaults."""
    cached = getattr(user, "_rapport_shared_types", None)
    if cached is None:
        rows = RecordShare.objects.filter(
            Q(user_id=user.pk) | Q(team_id__in=member_team_ids(user))
        ).values_list("object_type", flat=True)
        cached = frozenset(rows.order_by().distinct())
        user._rapport_shared_types = cached
    return cached


def editable(qs: QuerySet, user: User | None) -> QuerySet:
    """Narrow `qs` to the rows `user` may change (read-only users may change nothing)."""
    if user is None or not user.is_authenticated or not user.is_active or user.is_read_only:
        return qs.none()
    if user.is_admin:
        return qs
    object_type = _object_type(qs)
    if org_default(object_type, user) == Access.PUBLIC_READ_WRITE:
        return qs
    return qs.filter(_grants(object_type, user, edit=True))


def can_edit(record: Model, user: User | None) -> bool:
    model = type(record)
    return editable(model.all_objects.filter(pk=record.pk), user).exists()


def can_manage_access(record: Model, user: User | None) -> bool:
    """Whether `user` may give the record away or change who it is shared with: its owner,
    the managers of its team and of every team above, and admins (Salesforce's model). An
    edit share or a public read/write default lets people change the record, not hand it
    on: otherwise an edit sharer could transfer it and lock the owner out."""
    if user is None or not user.is_authenticated or not user.is_active or user.is_read_only:
        return False
    if user.is_admin:
        return True
    # The stored owner and team, not the instance's (which may be stale).
    row = type(record).all_objects.filter(pk=record.pk).values_list("owner_id", "team_id")
    owner_id, team_id = next(iter(row), (None, None))
    if owner_id is None:
        return False
    return owner_id == user.pk or (team_id is not None and team_id in managed_team_ids(user))


@lru_cache(maxsize=1)
def owned_record_models() -> dict[str, type[Model]]:
    """Object type → model, for shares and generic actions."""
    from rapport.accounts.models import Account, Contact
    from rapport.leads.models import Lead
    from rapport.sales.models import Opportunity

    return {m.OBJECT_TYPE: m for m in (Account, Contact, Lead, Opportunity)}


def sees_all(object_type: str, user: User) -> bool:
    return user.is_admin or org_default(object_type, user) in (
        Access.PUBLIC_READ,
        Access.PUBLIC_READ_WRITE,
    )


def visible_through_parents(
    qs: QuerySet,
    user: User | None,
    parents: dict[str, type[Model]],
    own_field: str | None = None,
    *,
    per_row: bool = False,
) -> QuerySet:
    """Narrow a child queryset (activities, orders, timeline events) to rows whose
    parent record the user may see: a child inherits its parents' visibility.

    `parents` maps the child's FK field name to the parent model; `own_field`, when
    given, also grants rows whose that field is the user (an activity's owner).

    By default each parent is checked against the set of every parent the user sees
    (`account_id IN (visible accounts)`), which PostgreSQL hashes once: right when the
    query reads many children. `per_row` checks each child's parents by a primary-key probe
    instead (the same rows): right when the other filters already leave few children (a
    calendar week of one owner), where building the sets would cost a scan of every
    contact (~0.5 s for a rep at a million contacts).
    """
    if reads_nothing(user):
        return qs.none()
    if user.is_admin:
        return qs
    q = Q(pk__in=[])
    for field, model in parents.items():
        if sees_all(model.OBJECT_TYPE, user):
            q |= Q(**{f"{field}__isnull": False})
        elif per_row:
            # A scalar subquery, not EXISTS, which PostgreSQL may turn back into a hashed set.
            probe = visible(model.objects.filter(pk=OuterRef(field)), user).order_by()
            seen = IsNull(Subquery(probe.values("pk")[:1]), False)
            q |= Q(ExpressionWrapper(seen, output_field=BooleanField()))
        else:
            q |= Q(**{f"{field}__in": visible(model.objects.all(), user).values("pk")})
    if own_field:
        q |= Q(**{own_field: user.pk})
    return qs.filter(q)


def visible_expr(model: type[Model], user: User, ref: str):
    """A boolean SQL expression: the `model` record that the row's `ref` column (or path,
    `activity__account_id`) points to exists and `user` may read it (deleted or not).

    A primary-key probe per row (a correlated subquery with LIMIT 1), never the set of every
    record the user may see: `IN (visible …)` and EXISTS made the database collect all of
    them (a scan of a million contacts) for a page of fifty rows. A null `ref` is never
    visible.
    """
    if reads_nothing(user):
        return Value(False)
    if sees_all(model.OBJECT_TYPE, user):
        return ExpressionWrapper(Q(**{f"{ref}__isnull": False}), output_field=BooleanField())
    probe = visible(model.all_objects.filter(pk=OuterRef(ref)), user).order_by().values("pk")[:1]
    return ExpressionWrapper(IsNull(Subquery(probe), False), output_field=BooleanField())


def visible_ref(model: type[Model], user: User, ref: str) -> Q:
    """`visible_expr` as a filter."""
    return Q(visible_expr(model, user, ref))


# ----- names of linked records -----------------------------------------------------------
# A row the user may see can link to one they may not (a shared contact of a private
# account). Every embedded name or email of a linked record — API fields, exports, list
# columns, record pages, pickers, search — goes through these, so a private record is
# never named through a visible one.


def with_shown_links(qs: QuerySet, user: User | None, *links: str) -> QuerySet:
    """Join the records `links` (FK names of `qs`'s model) and mark for each row whether the
    user may see each of them (`seen_<link>`), in the same query; read them with `shown()`."""
    if not links:
        return qs
    marks = {}
    for link in links:
        model = qs.model._meta.get_field(link).related_model
        marks[f"seen_{link}"] = visible_expr(model, user, f"{link}_id")
    return qs.select_related(*links).annotate(**marks)


def shown(row: Model, link: str) -> Model | None:
    """The row's linked record when the reader may see it (marked by `with_shown_links`),
    else None. Unmarked rows show nothing: a forgotten mark hides a name, never leaks it."""
    if getattr(row, f"{link}_id", None) and getattr(row, f"seen_{link}", False):
        return getattr(row, link)
    return None


NOT_VISIBLE = "(not visible to you)"


def shown_name(row: Model, link: str) -> str:
    """The linked record's name for a page: its str() when the reader may see it,
    NOT_VISIBLE when it exists but is private to someone else, "" without a link."""
    record = shown(row, link)
    if record is not None:
        return str(record)
    return NOT_VISIBLE if getattr(row, f"{link}_id", None) else ""


def shown_value(model: type[Model], user: User | None, ref: str, value: str):
    """An SQL expression for `.values()` reads (search, pickers): the linked record's
    `value` (a path such as `account__name`) when the user may see the record `ref` points
    to, else NULL."""
    return Case(When(visible_expr(model, user, ref), then=F(value)), default=Value(None))


def visible_with_links(qs: QuerySet, user: User | None) -> QuerySet:
    """`visible()` plus the marks of the links the model names in `SHOWN_LINKS`."""
    return with_shown_links(visible(qs, user), user, *getattr(qs.model, "SHOWN_LINKS", ()))


# ----- visibility of a few rows already fetched ------------------------------------------


def answers_for(record: Model, user: User) -> bool:
    """Whether the owner or managed-team grant of `visible()` covers the loaded `record`
    (its owner is the user, or its team is one they manage): such a record is visible
    to an active user without asking the database."""
    if record.owner_id is not None and record.owner_id == user.pk:
        return True
    return record.team_id is not None and record.team_id in managed_team_ids(user)


def visible_ids(
    user: User | None, wanted: dict[type[Model], set], known: dict[type[Model], set] | None = None
) -> dict[type[Model], frozenset[int]]:
    """For each owned record model, which of the `wanted` primary keys (rows deleted or
    not, as `visible_expr`) `user` may read: the counterpart of `visible_expr` for the few
    rows a page has already fetched (the candidates of a dashboard block), computed once per
    model on those ids instead of as a probe expression per row over the query.

    `known[model]` holds ids already established as visible (`answers_for` on loaded rows):
    they are not asked for. The rest of every model is asked in ONE statement, a UNION ALL of
    `visible(model.all_objects.filter(pk__in=…))` per model (no statement when nothing is
    left to ask). A model whose rows the user all sees (admin, public default) needs none."""
    out: dict[type[Model], frozenset[int]] = {}
    if reads_nothing(user):
        return {model: frozenset() for model in wanted}
    known = known or {}
    parts = []
    for tag, (model, ids) in enumerate(wanted.items()):
        ids = {i for i in ids if i is not None}
        if sees_all(model.OBJECT_TYPE, user):
            out[model] = frozenset(ids)
            continue
        mine = ids & set(known.get(model, ()))
        out[model] = frozenset(mine)
        rest = ids - mine
        if rest:
            rows = visible(model.all_objects.filter(pk__in=sorted(rest)), user)
            parts.append(rows.order_by().values_list(Value(tag, output_field=IntegerField()), "pk"))
    if parts:
        models = list(wanted)
        query = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
        found: dict[int, set[int]] = {}
        for tag, pk in query:
            found.setdefault(tag, set()).add(pk)
        for tag, pks in found.items():
            out[models[tag]] = out[models[tag]] | pks
    return out
