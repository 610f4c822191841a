"""A `Prepared` read (compiled once, run many times with other arguments) returns what its
queryset returns for each set of arguments: values, model instances with their joined
records and annotations, converted values (datetimes and booleans on SQLite)."""

import pytest
from django.db.models import Count, Exists, F, OuterRef

from rapport.cases.models import Queue, QueueMember
from rapport.identity.models import User
from rapport.records.prepared import Prepared, PreparedUnion

pytestmark = pytest.mark.django_db


def _members(queue_id, user_id):
    return (
        QueueMember.objects.filter(queue_id=queue_id)
        .exclude(user_id=user_id)
        .select_related("queue", "user")
        .annotate(
            busy=Exists(
                QueueMember.objects.filter(user=OuterRef("user")).exclude(pk=OuterRef("pk"))
            )
        )
        .order_by("user__username")
    )


def test_prepared_instances_match_the_queryset_for_each_argument(personas):
    first, second = Queue.objects.create(name="First"), Queue.objects.create(name="Second")
    users = [personas.owner, personas.teammate, personas.manager, personas.outsider]
    for i, user in enumerate(users):
        QueueMember.objects.create(queue=first if i % 2 else second, user=user)
    QueueMember.objects.create(queue=first, user=personas.owner)
    prepared = Prepared(_members, 2)
    for queue, skip in [(first, personas.teammate), (second, personas.owner), (first, None)]:
        skip_id = skip.pk if skip else 0
        mine = prepared(queue.pk, skip_id)
        theirs = list(_members(queue.pk, skip_id))
        assert mine and [(m.pk, m.queue.name, m.user.username, m.busy) for m in mine] == [
            (m.pk, m.queue.name, m.user.username, m.busy) for m in theirs
        ]
        assert all(isinstance(m.busy, bool) for m in mine)
    assert prepared(10**9, 0) == []


def test_prepared_values_and_converted_columns():
    zed = User.objects.create(username="zed", is_active=False)
    User.objects.create(username="amy", is_active=True)

    def build(pk):
        return (
            User.objects.filter(pk__gte=pk)
            .values_list("username", "is_active", "date_joined")
            .order_by("username")
        )

    rows = Prepared(build, 1)
    assert rows(zed.pk) == list(build(zed.pk)) and len(rows(zed.pk)) == 2
    assert rows(zed.pk + 1) == list(build(zed.pk + 1))
    assert {type(r[1]) for r in rows(zed.pk)} == {bool}
    assert rows(zed.pk)[0][2].tzinfo is not None  # an aware datetime, as the ORM gives
    counted = Prepared(
        lambda: Queue.objects.annotate(n=Count("members")).values_list("name", "n").order_by("name")
    )
    Queue.objects.create(name="Empty")
    assert counted() == [("Empty", 0)]


def test_prepared_refuses_arguments_that_do_not_reach_the_sql():
    ignored = Prepared(lambda pk: User.objects.all(), 1)
    with pytest.raises(ValueError):
        ignored(1)
    with pytest.raises(TypeError):
        Prepared(lambda pk: User.objects.filter(pk=pk), 1)()


def test_prepared_union_returns_each_parts_rows_in_its_order_in_one_statement():
    """Parts of different widths, orders (explicit, the model's, none), a slice, arguments
    shared by the parts, converted columns (booleans and datetimes on SQLite)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for name in ("Zeta", "alpha", "Beta", "Gamma"):
        Queue.objects.create(name=name)
    users = [User.objects.create(username=u, is_active=u != "bo") for u in ("cy", "bo", "al")]
    first = users[0].pk
    union = PreparedUnion(
        Prepared(
            lambda pk: (
                User.objects.filter(pk__gte=pk)
                .order_by("-username")
                .values_list("pk", "username", "is_active", "date_joined")[:2]
            ),
            1,
        ),
        Prepared(lambda: Queue.objects.values_list("pk", "name")),
        Prepared(lambda pk: User.objects.filter(pk=pk).order_by().values_list("pk"), 1),
        nargs=1,
    )
    with CaptureQueriesContext(connection) as ctx:
        tops, queues, one = union(first)
    assert len(ctx.captured_queries) == 1
    assert [(u, a) for _, u, a, _ in tops] == [("cy", True), ("bo", False)]
    assert tops[0][3] == users[0].date_joined
    assert [n for _, n in queues] == [n for _, n in Queue.objects.values_list("pk", "name")]
    assert one == [(first,)]
    tops, queues, one = union(users[2].pk)
    assert [u for _, u, _, _ in tops] == ["al"] and one == [(users[2].pk,)]
    assert union(10**9)[0] == [] and union(10**9)[2] == []


def test_prepared_text_argument_and_key_together():
    """A text argument (compared with a text column: the field turns the sentinel into its
    decimal text) takes its slot beside an integer one; other texts find other rows."""
    amy = User.objects.create(username="amy")
    bob = User.objects.create(username="bob")

    def build(username, pk):
        return User.objects.filter(username=username, pk__gte=pk).values_list("pk", "username")

    rows = Prepared(build, 2)
    assert rows("amy", 0) == list(build("amy", 0)) == [(amy.pk, "amy")]
    assert rows("bob", 0) == [(bob.pk, "bob")]
    assert rows("bob", bob.pk + 1) == []
    assert rows("nobody", 0) == []
    # a text that looks like a sentinel's is a value like any other
    assert rows(str(-(2**62) - 1_000_003), 0) == []


def test_prepared_instant_and_ids_arguments():
    """INSTANT and IDS arguments take their slots in whatever form the backend writes them
    (a datetime, or its text on SQLite; a list, or its JSON): the rows equal the queryset's
    for other instants and other id lists."""
    import datetime

    from django.utils import timezone

    from rapport.records.prepared import IDS, INSTANT
    from rapport.segments.lifecycle import _IdIn

    users = [User.objects.create(username=f"u{i}") for i in range(4)]
    base = timezone.now()
    for i, user in enumerate(users):
        User.objects.filter(pk=user.pk).update(date_joined=base - datetime.timedelta(days=i))

    def build(since, ids):
        return (
            User.objects.filter(_IdIn(F("pk"), ids), date_joined__gte=since)
            .order_by("pk")
            .values_list("pk", flat=True)
        )

    rows = Prepared(build, 2, kinds=(INSTANT, IDS))
    pks = [u.pk for u in users]
    for days, ids in [(0, pks), (1.5, pks), (10, pks[1:3]), (10, []), (2.5, pks[::2])]:
        since = base - datetime.timedelta(days=days, seconds=1)
        assert [r[0] for r in rows(since, ids)] == list(build(since, ids))
    assert len(rows(base - datetime.timedelta(days=10), pks)) == 4
