"""Reading a record's timeline (the single customer view's backbone).

An event is shown only when the user may see what it is about: its most specific subject
(the activity or order it logs, else its opportunity, contact, lead, then account). An
account's timeline gathers its contacts' and deals' events, so without this a reader of a
shared account would see a private contact's creation, a private deal's amounts, calls
logged only on them and the shares of other records.
"""

from types import SimpleNamespace

from django.db.models import BooleanField, ExpressionWrapper, Model, OuterRef, Q, QuerySet, Subquery
from django.db.models.lookups import IsNull

from rapport.accounts.models import Account, Contact
from rapport.activities.models import Activity
from rapport.identity.models import User
from rapport.leads.models import Lead
from rapport.orders.models import Order
from rapport.records.visibility import answers_for, visible_ids, visible_ref
from rapport.sales.models import Opportunity
from rapport.timeline.models import TimelineEvent

_FIELD = {"Account": "account", "Contact": "contact", "Lead": "lead", "Opportunity": "opportunity"}

# The records an event may be about, the most specific first.
_RECORD_SUBJECTS = (
    ("opportunity", Opportunity),
    ("contact", Contact),
    ("lead", Lead),
    ("account", Account),
)


def _probe(model: type[Model], ref: str, cond: Q) -> Q:
    """The `model` row the event's `ref` column points to matches `cond`: a primary-key
    probe (a correlated subquery with LIMIT 1), never a join. Joined (`order__account_id`),
    PostgreSQL hashed the whole orders table to check twenty events (236 ms of the rep's
    "recent events" block at 100,000 contacts)."""
    rows = model._base_manager.filter(cond, pk=OuterRef(ref)).order_by().values("pk")[:1]
    return Q(ExpressionWrapper(IsNull(Subquery(rows), False), output_field=BooleanField()))


def _activity_visible(user: User, known_field: str | None, known_pk: int | None) -> Q:
    # As activities_visible_to: through any record it is linked to, or to its owner.
    q = Q(owner_id=user.pk)
    if known_field:
        q |= Q(**{f"{known_field}_id": known_pk})
    for field, model in _RECORD_SUBJECTS:
        q |= visible_ref(model, user, f"{field}_id")
    return _probe(Activity, "activity_id", q)


def _order_visible(user: User) -> Q:
    # As orders_visible_to: with its account or its contact.
    return _probe(
        Order,
        "order_id",
        visible_ref(Account, user, "account_id") | visible_ref(Contact, user, "contact_id"),
    )


def events_visible_q(user: User, *, known: Model | None = None) -> Q:
    """The events whose subject `user` may see. `known` is a record already checked as
    visible: events about it need no probe (most events of a record's own timeline)."""
    known_field = _FIELD.get(type(known).__name__) if known is not None else None
    known_pk = known.pk if known is not None else None
    q = Q(pk__in=[])  # about nothing: never shown
    for field, model in reversed(_RECORD_SUBJECTS):
        seen = visible_ref(model, user, f"{field}_id")
        if field == known_field:
            seen = Q(**{f"{field}_id": known_pk}) | seen
        q = Q(**{f"{field}_id__isnull": False}) & seen | Q(**{f"{field}_id__isnull": True}) & q
    q = Q(order_id__isnull=False) & _order_visible(user) | Q(order_id__isnull=True) & q
    return (
        Q(activity_id__isnull=False) & _activity_visible(user, known_field, known_pk)
        | Q(activity_id__isnull=True) & q
    )


def events_visible_to(qs: QuerySet[TimelineEvent], user: User) -> QuerySet[TimelineEvent]:
    """Narrow timeline events to those whose subject the user may see (admins: all)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.is_admin:
        return qs
    return qs.filter(events_visible_q(user))


def _cached(row, field: str):
    """The related record `field` of `row` when it was loaded with it (select_related), or
    the attribute of a plain row (`candidate_rows`)."""
    meta = getattr(type(row), "_meta", None)
    if meta is None:
        return getattr(row, field, None)
    return getattr(row, field) if meta.get_field(field).is_cached(row) else None


# What `candidate_rows` reads of each event: its links, its activity's and its order's.
_ROW_FIELDS = (
    "pk",
    "activity_id",
    "activity__owner_id",
    *(f"activity__{field}_id" for field, _ in _RECORD_SUBJECTS),
    "order_id",
    "order__account_id",
    "order__contact_id",
    *(f"{field}_id" for field, _ in _RECORD_SUBJECTS),
    *(f"{field}__{key}" for field, _ in _RECORD_SUBJECTS for key in ("owner_id", "team_id")),
)


def candidate_rows(qs: QuerySet[TimelineEvent]) -> list[SimpleNamespace]:
    """The events of `qs` as plain rows carrying what `visible_events` reads (their links,
    their activity's owner and links, their order's links, the owner and team of each
    linked record), from one statement of tuples: for a block that shows a few of many
    candidates, building a model instance per candidate and linked record cost more than
    the rest of the decision."""
    subjects = [field for field, _ in _RECORD_SUBJECTS]
    rows = []
    for values in qs.values_list(*_ROW_FIELDS):
        data = dict(zip(_ROW_FIELDS, values, strict=True))
        row = SimpleNamespace(
            pk=data["pk"], activity_id=data["activity_id"], order_id=data["order_id"]
        )
        row.activity = (
            SimpleNamespace(
                owner_id=data["activity__owner_id"],
                **{f"{f}_id": data[f"activity__{f}_id"] for f in subjects},
            )
            if row.activity_id is not None
            else None
        )
        row.order = (
            SimpleNamespace(
                account_id=data["order__account_id"], contact_id=data["order__contact_id"]
            )
            if row.order_id is not None
            else None
        )
        for f in subjects:
            setattr(row, f"{f}_id", data[f"{f}_id"])
            if data[f"{f}_id"] is not None:
                record = SimpleNamespace(
                    pk=data[f"{f}_id"],
                    owner_id=data[f"{f}__owner_id"],
                    team_id=data[f"{f}__team_id"],
                )
                setattr(row, f, record)
        rows.append(row)
    return rows


def visible_events(events, user: User, *, known: Model | None = None) -> list[TimelineEvent]:
    """The events of `events` (rows already fetched, a dashboard's few candidates) that
    `events_visible_to` would keep, in their order: the same rule, evaluated on the rows
    with the visibility of their records asked once per model on the few ids involved
    (`visible_ids`: one statement at most, none when every record involved is the user's),
    instead of compiling ~40 probe expressions into the query. `events` are model
    instances fetched with `select_related("activity", "order")` (the activity's and the
    order's links are read from the rows, else one query per event; linked records loaded
    too spare asking about the user's own) or `candidate_rows`."""
    events = list(events)
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    if user.is_admin:
        return events
    known_field = _FIELD.get(type(known).__name__) if known is not None else None
    known_pk = known.pk if known is not None else None
    wanted = {model: set() for _, model in _RECORD_SUBJECTS}
    mine = {model: set() for _, model in _RECORD_SUBJECTS}
    for event in events:
        for field, model in _RECORD_SUBJECTS:
            wanted[model].add(getattr(event, f"{field}_id"))
            record = _cached(event, field)
            if record is not None and answers_for(record, user):
                mine[model].add(record.pk)
        if event.activity_id is not None and event.activity is not None:
            for field, model in _RECORD_SUBJECTS:
                wanted[model].add(getattr(event.activity, f"{field}_id"))
        if event.order_id is not None and event.order is not None:
            wanted[Account].add(event.order.account_id)
            wanted[Contact].add(event.order.contact_id)
    if known_field:
        mine[type(known)].add(known_pk)
    seen = visible_ids(user, wanted, mine)

    def shown(event: TimelineEvent) -> bool:
        if event.activity_id is not None:
            activity = event.activity
            if activity is None:
                return False
            if activity.owner_id == user.pk:
                return True
            return any(
                getattr(activity, f"{field}_id") in seen[model] for field, model in _RECORD_SUBJECTS
            )
        if event.order_id is not None:
            order = event.order
            return order is not None and (
                order.account_id in seen[Account] or order.contact_id in seen[Contact]
            )
        for field, model in _RECORD_SUBJECTS:
            pk = getattr(event, f"{field}_id")
            if pk is not None:
                return pk in seen[model]
        return False  # about nothing that is a record: never shown

    return [event for event in events if shown(event)]


def timeline_of(record: Model, *, user: User) -> QuerySet[TimelineEvent]:
    """Events of a record the caller has already checked as visible to `user`, newest
    first, without those about records `user` may not see.

    An account's timeline includes its contacts' and opportunities' events.
    """
    field = _FIELD[type(record).__name__]
    qs = TimelineEvent.objects.filter(**{f"{field}_id": record.pk}).select_related(
        "actor", "activity"
    )
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.is_admin:
        return qs
    return qs.filter(events_visible_q(user, known=record))


def timeline_candidates(record: Model, *, user: User) -> tuple[QuerySet[TimelineEvent], object]:
    """The events of a record the caller has already checked as visible to `user`, all of
    them, and the function that keeps those `user` may see (None: all): for pages that walk
    the record's index newest first and decide visibility on each batch of rows
    (`keyset_page(keep=…)`), which is what `timeline_of` returns, without compiling its
    ~40 probe expressions into every page's query."""
    field = _FIELD[type(record).__name__]
    qs = TimelineEvent.objects.filter(**{f"{field}_id": record.pk}).select_related(
        "actor", "activity", "order"
    )
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none(), None
    if user.is_admin:
        return qs, None
    return qs, lambda rows: visible_events(rows, user, known=record)
