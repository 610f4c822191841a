"""The dashboard blocks decide visibility on the rows they fetched (`visible_events`,
`visible_ids`, `_subject_flags`) instead of as probe expressions in SQL: the same events and
the same named records as the SQL rule (`events_visible_to`, `events_visible_q`, and the
per-row probes the blocks used before), for every persona, on data where the personas see
different things: shares with a user and with a team, a public default, a deleted record,
activities and orders linked to records of several owners, events about nothing."""

import datetime

import pytest
from django.db.models import BooleanField, ExpressionWrapper, OuterRef, Q, Subquery
from django.db.models.lookups import IsNull
from django.utils import timezone

from rapport.accounts.models import Account, Contact
from rapport.accounts.services import account_create, account_delete, contact_create
from rapport.activities.models import Activity
from rapport.api.pagination import keyset_page
from rapport.identity.models import User
from rapport.identity.services import team_create, user_create
from rapport.leads.models import Lead
from rapport.leads.services import lead_create
from rapport.orders.models import Order
from rapport.records.models import Access, ObjectType, OrgDefault
from rapport.records.services import record_share
from rapport.records.visibility import visible, visible_ids
from rapport.sales.models import Opportunity, Pipeline
from rapport.sales.services import opportunity_create
from rapport.timeline.models import EventKind, TimelineEvent
from rapport.timeline.selectors import (
    events_visible_q,
    events_visible_to,
    timeline_candidates,
    timeline_of,
    visible_events,
)
from rapport.web import dashboard

pytestmark = pytest.mark.django_db

PERSONAS = ("admin", "manager", "owner", "teammate", "reader", "outsider", "deactivated", "lonely")
SUBJECTS = ("activity", "order", "opportunity", "contact", "lead", "account")


@pytest.fixture(params=["private", "contacts public"])
def world(request, personas):
    """Records of several owners and events about every combination the rule knows."""
    if request.param == "contacts public":
        OrgDefault.objects.create(object_type=ObjectType.CONTACT, access=Access.PUBLIC_READ)
    p = personas
    lonely = user_create(username="lonely", team=team_create(name="Lonely team"))
    stage = Pipeline.objects.get(name="Sales").stages.get(name="Proposal")
    a_own = account_create(actor=p.owner, fields={"name": "Own Co"})
    a_mate = account_create(actor=p.teammate, fields={"name": "Mate Co"})
    a_out = account_create(actor=p.outsider, fields={"name": "Out Co"})
    a_user_share = account_create(actor=p.outsider, fields={"name": "Shared with owner"})
    record_share(record=a_user_share, actor=p.outsider, user=p.owner)
    a_team_share = account_create(actor=p.outsider, fields={"name": "Shared with team A"})
    record_share(record=a_team_share, actor=p.outsider, team=p.team_a)
    a_gone = account_create(actor=p.owner, fields={"name": "Gone Co"})
    c_own = contact_create(actor=p.owner, fields={"last_name": "Own", "account": a_out})
    c_out = contact_create(actor=p.outsider, fields={"last_name": "Out", "account": a_own})
    c_mate = contact_create(actor=p.teammate, fields={"last_name": "Mate"})
    l_own = lead_create(actor=p.owner, fields={"last_name": "Lead own"})
    l_out = lead_create(actor=p.outsider, fields={"last_name": "Lead out"})

    def deal(owner, name, account):
        return opportunity_create(
            actor=owner, fields={"name": name, "amount": 10, "stage": stage, "account": account}
        )

    o_own = deal(p.owner, "Own deal", a_own)
    o_out_on_own = deal(p.outsider, "Their deal on my account", a_own)
    o_mate = deal(p.teammate, "Mate deal", a_mate)
    now = timezone.now()

    def activity(owner, **links):
        return Activity.objects.create(
            kind="call", subject="c", owner=owner, occurred_at=now, **links
        )

    acts = [
        activity(p.outsider, contact=c_own),  # theirs, about my contact
        activity(p.owner, account=a_out),  # mine, about their account
        activity(p.outsider, account=a_out),  # theirs about theirs
        activity(p.teammate, opportunity=o_mate, account=a_mate),
        activity(p.outsider, lead=l_out, contact=c_mate),
        activity(p.outsider, account=a_team_share),
    ]
    orders = [
        Order.objects.create(account=a_out, contact=c_own, ordered_at=now),
        Order.objects.create(account=a_out, ordered_at=now),
        Order.objects.create(contact=c_mate, ordered_at=now),
        Order.objects.create(account=a_user_share, ordered_at=now),
    ]
    combos = [
        {"account": a_own, "opportunity": o_out_on_own},
        {"account": a_out, "contact": c_own},
        {"account": a_own, "contact": c_out},
        {"account": a_mate, "opportunity": o_mate},
        {"lead": l_own},
        {"lead": l_out},
        {"contact": c_mate},
        {"account": a_gone},
        {"account": a_user_share},
        {"account": a_team_share, "contact": c_out},
        {},  # about nothing that is a record
        *({"activity": a, "account": a.account or a_own} for a in acts),
        *({"order": o, "account": o.account} for o in orders),
        {"activity": acts[2], "account": a_own},  # a record of mine, an activity of theirs
        {"order": orders[1], "account": a_own},
        # A run of events on my account that I may not see (about their deal on it): a
        # timeline page must walk past them in growing batches.
        *({"account": a_own, "opportunity": o_out_on_own} for _ in range(10)),
        {"account": a_own},
    ]
    for n, links in enumerate(combos):
        TimelineEvent.objects.create(
            kind=EventKind.UPDATED,
            occurred_at=now + datetime.timedelta(seconds=n + 1),
            summary=f"combo {n}",
            **links,
        )
    account_delete(account=a_gone, actor=p.owner)
    # The owner's tasks, on records they no longer answer for too.
    for links in (
        {"account": a_own},
        {"contact": c_out},
        {"account": a_out, "contact": c_own},
        {"opportunity": o_out_on_own, "account": a_own},
        {"account": a_user_share},
        {"account": a_gone},
        {"lead": l_out},
        {},
    ):
        Activity.objects.create(
            kind="task", subject="t", owner=p.owner, occurred_at=now, due_at=now, **links
        )
    users = {name: getattr(p, name, None) for name in PERSONAS}
    users["lonely"] = lonely
    return {"users": users, "records": [a_own, a_out, a_user_share, c_own, c_out, o_own, l_own]}


def _fresh(user: User) -> User:
    """A user object without the visibility settings cached by earlier calls."""
    return User.objects.get(pk=user.pk)


def _rows():
    return TimelineEvent.objects.select_related(*SUBJECTS).order_by("-occurred_at", "-id")


@pytest.mark.parametrize("persona", PERSONAS)
def test_visible_events_are_the_sql_rules_events(world, persona):
    user = _fresh(world["users"][persona])
    expected = list(events_visible_to(_rows(), user).values_list("pk", flat=True))
    got = [e.pk for e in visible_events(_rows(), _fresh(user))]
    assert got == expected
    total = TimelineEvent.objects.count()
    if persona in ("owner", "teammate", "manager", "outsider", "reader"):
        assert 0 < len(got) < total, "the data must tell this persona's events from the rest"


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_records_timeline_rule_with_the_record_known_is_the_same(world, persona):
    user = _fresh(world["users"][persona])
    for record in world["records"]:
        if not visible(type(record).all_objects.filter(pk=record.pk), user).exists():
            continue
        expected = (
            set(
                TimelineEvent.objects.filter(
                    events_visible_q(_fresh(user), known=record)
                ).values_list("pk", flat=True)
            )
            if not user.is_admin
            else set(TimelineEvent.objects.values_list("pk", flat=True))
        )
        got = {e.pk for e in visible_events(_rows(), _fresh(user), known=record)}
        assert got == expected, record


def _walk(make, limit: int) -> list[list[int]]:
    """Every page of a timeline, as lists of event ids, following the next cursors."""
    pages, cursor = [], None
    while True:
        qs, keep = make()
        page = keyset_page(
            qs,
            sort="-occurred_at",
            allowed={"occurred_at"},
            cursor=cursor,
            limit=limit,
            with_count=False,
            keep=keep,
        )
        pages.append([e.pk for e in page.items])
        cursor = page.next_cursor
        if not cursor:
            return pages


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_records_timeline_pages_are_the_sql_rules_pages(world, persona):
    """The record page walks the record's events in batches and keeps the visible ones:
    page by page the same events as the SQL rule (`timeline_of`), for small pages too
    (several batches per page past events the user may not see)."""
    user = world["users"][persona]
    for record in world["records"]:
        if not visible(type(record).all_objects.filter(pk=record.pk), _fresh(user)).exists():
            continue
        for limit in (1, 2, 20):
            expected = _walk(lambda r=record: (timeline_of(r, user=_fresh(user)), None), limit)
            got = _walk(lambda r=record: timeline_candidates(r, user=_fresh(user)), limit)
            assert got == expected, (record, limit)


def _old_flags(user, records):
    """The SQL formulation the blocks used before: a primary-key probe per row and subject."""

    def probe(name, model):
        rows = records(model, user).filter(pk=OuterRef(f"{name}_id")).order_by().values("pk")[:1]
        return ExpressionWrapper(IsNull(Subquery(rows), False), output_field=BooleanField())

    return {f"show_{name}": probe(name, model) for name, model in dashboard.EVENT_SUBJECTS}


def _old_my_records(model, user):
    """`dashboard.my_records` as it was: the scope on top of `visible()`."""
    qs = visible(model.objects.all(), user)
    scope = dashboard.responsibility(user)
    return qs if scope is None else qs.filter(scope)


@pytest.mark.parametrize("persona", PERSONAS)
def test_my_records_are_the_scope_on_top_of_visible(world, persona):
    user = world["users"][persona]
    for _, model in dashboard.EVENT_SUBJECTS:
        expected = set(_old_my_records(model, _fresh(user)).values_list("pk", flat=True))
        got = set(dashboard.my_records(model, _fresh(user)).values_list("pk", flat=True))
        assert got == expected, model
        if persona == "owner":
            assert got, model


def _old_recent_events(user, limit):
    newest = TimelineEvent.objects.order_by("-occurred_at", "-id").values_list("pk", flat=True)
    mine = Q(pk__in=[])
    for name, model in dashboard.EVENT_SUBJECTS:
        part = newest.filter(**{f"{name}_id__in": _old_my_records(model, user).values("pk")})
        mine |= Q(pk__in=list(part[:limit]))
    candidates = list(TimelineEvent.objects.filter(mine).values_list("pk", flat=True))
    events = (
        events_visible_to(TimelineEvent.objects.filter(pk__in=candidates), user)
        .annotate(**_old_flags(user, _old_my_records))
        .order_by("-occurred_at", "-id")[:limit]
    )
    return [(e.pk, dashboard._first_shown(e)) for e in events]


@pytest.mark.parametrize("limit", [20, 4])
@pytest.mark.parametrize("persona", PERSONAS)
def test_recent_events_are_the_old_selectors(world, persona, limit):
    user = world["users"][persona]
    expected = _old_recent_events(_fresh(user), limit)
    got = [(e.pk, e.subject) for e in dashboard.recent_events(user=_fresh(user), limit=limit)]
    assert got == expected
    if persona in ("owner", "manager", "admin"):
        assert got, "the data must give this persona recent events"


@pytest.mark.parametrize("persona", PERSONAS)
def test_tasks_name_the_records_the_old_probes_named(world, persona):
    user = world["users"][persona]
    if not Activity.objects.filter(owner_id=user.pk, kind="task").exists():
        # Give this persona the same tasks as the owner's, linked to the same records.
        for task in Activity.objects.filter(owner=world["users"]["owner"], kind="task"):
            task.pk = None
            task.owner = user
            task.save()

    def visible_records(model, u):
        return visible(model.objects.all(), u)

    expected = {
        t.pk: dashboard._first_shown(t)
        for t in Activity.objects.filter(owner_id=user.pk, kind="task").annotate(
            **_old_flags(_fresh(user), visible_records)
        )
    }
    tasks = dashboard.dashboard_tasks(user=_fresh(user))
    got = {t.pk: t.subject_record for t in tasks.overdue + tasks.today + tasks.upcoming}
    assert got == {pk: expected[pk] for pk in got}
    assert len(got) == len(expected)
    for pk in got:
        assert dashboard.dashboard_task(user=_fresh(user), pk=pk).subject_record == expected[pk]


def test_visible_ids_ask_one_statement_for_every_model_and_none_for_known_rows(
    world, django_assert_num_queries
):
    owner = _fresh(world["users"]["owner"])
    ids = {
        Account: set(Account.all_objects.values_list("pk", flat=True)),
        Contact: set(Contact.objects.values_list("pk", flat=True)),
        Lead: set(Lead.objects.values_list("pk", flat=True)),
        Opportunity: set(Opportunity.objects.values_list("pk", flat=True)),
    }
    expected = {
        model: frozenset(
            visible(model.all_objects.filter(pk__in=pks), owner).values_list("pk", flat=True)
        )
        for model, pks in ids.items()
    }
    with django_assert_num_queries(1):
        assert visible_ids(owner, ids) == expected
    mine = {model: set(pks) for model, pks in expected.items()}
    with django_assert_num_queries(0):
        assert visible_ids(owner, expected, mine) == expected
