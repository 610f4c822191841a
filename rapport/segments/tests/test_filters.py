"""Filter compilation, one operator at a time, against the same world on both backends."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.activities.services import activity_log
from rapport.analytics.models import CustomerScore
from rapport.segments.tests.conftest import NOW, cond, ids, place

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "field,operator,value,expected",
    [
        ("first_name", "equals", "ann", {"ann"}),
        ("first_name", "not_equals", "ann", {"bob", "cat"}),
        ("last_name", "contains", "ak", {"bob"}),
        ("last_name", "not_contains", "a", {"cat"}),
        ("city", "starts_with", "pa", {"ann"}),
        ("city", "in", "Paris, Lyon", {"ann", "bob"}),
        ("city", "is_empty", "", {"cat"}),
        ("city", "is_not_empty", "", {"ann", "bob"}),
        ("title", "equals", "CEO", {"cat"}),
        ("email", "contains", "@globex.example", {"bob"}),
        ("tags", "equals", "Newsletter", {"ann"}),
        ("tags", "not_equals", "newsletter", {"bob", "cat"}),
        ("tags", "is_empty", "", {"bob", "cat"}),
        ("account.industry", "equals", "retail", {"ann"}),
        ("account.industry", "not_equals", "retail", {"bob", "cat"}),
        ("account.name", "is_empty", "", {"cat"}),
        ("account.tags", "equals", "vip", {"ann"}),
        ("lifecycle", "equals", "prospect", {"ann", "bob", "cat"}),
    ],
)
def test_plain_operators(world, field, operator, value, expected):
    names = {world.ann.pk: "ann", world.bob.pk: "bob", world.cat.pk: "cat"}
    assert {names[i] for i in ids(cond(field, operator, value))} == expected


def test_created_at_dates(world):
    today = world.ann.created_at.date().isoformat()
    assert len(ids(cond("created_at", "gte", today), now=world.ann.created_at)) == 3
    assert ids(cond("created_at", "lt", today)) == set()
    assert len(ids(cond("created_at", "within_days", 2), now=world.ann.created_at)) == 3


def test_order_history(world):
    a = world.actor
    place(a, contact=world.ann, days_ago=5, total="100", product=world.widget)
    place(a, contact=world.ann, days_ago=200, total="50")
    place(a, account=world.globex, days_ago=40, total="30")  # no contact: Bob's account's
    ann, bob, cat = world.ann.pk, world.bob.pk, world.cat.pk
    assert ids(cond("orders.product", "equals", world.widget.pk)) == {ann}
    assert ids(cond("orders.product", "not_equals", world.widget.pk)) == {bob, cat}
    assert ids(cond("orders.total_spend", "gte", "150")) == {ann}
    assert ids(cond("orders.total_spend", "lt", "40")) == {bob, cat}
    assert ids(cond("orders.total_spend", "equals", "30")) == {bob}
    assert ids(cond("orders.count", "equals", "2")) == {ann}
    assert ids(cond("orders.count", "equals", "0")) == {cat}
    assert ids(cond("orders.count", "not_equals", "0")) == {ann, bob}
    assert ids(cond("orders.ordered_at", "within_days", "30")) == {ann}
    assert ids(cond("orders.ordered_at", "not_within_days", "30")) == {bob, cat}
    assert ids(cond("orders.ordered_at", "is_empty")) == {cat}
    day = (NOW.date().replace(day=1)).isoformat()
    assert ids(cond("orders.ordered_at", "gte", day)) == {ann}
    assert ids(cond("orders.ordered_at", "lt", day)) == {ann, bob}


def test_cancelled_orders_do_not_count(world):
    order = place(world.actor, contact=world.cat, days_ago=3)
    type(order).objects.filter(pk=order.pk).update(status="cancelled")
    assert ids(cond("orders.count", "gte", "1")) == set()


def test_activities(world, frozen):
    activity_log(
        actor=world.actor,
        kind="call",
        fields={"subject": "Hello", "occurred_at": NOW},
        links={"contact_id": world.bob.pk},
    )
    assert ids(cond("activity.call", "within_days", "7")) == {world.bob.pk}
    assert ids(cond("activity.meeting", "within_days", "7")) == set()
    assert ids(cond("activity.any", "is_not_empty")) == {world.bob.pk}
    assert ids(cond("activity.any", "is_empty")) == {world.ann.pk, world.cat.pk}
    assert ids(cond("activity.call", "not_within_days", "7")) == {world.ann.pk, world.cat.pk}


def test_scores_from_the_contact_or_its_account(world):
    CustomerScore.objects.create(
        account=world.acme, segment="champions", clv=500, churn_risk=0.1, computed_at=NOW
    )
    CustomerScore.objects.create(
        contact=world.cat, segment="hibernating", clv=20, churn_risk=0.9, computed_at=NOW
    )
    assert ids(cond("score.segment", "equals", "champions")) == {world.ann.pk}
    assert ids(cond("score.segment", "in", "champions,hibernating")) == {world.ann.pk, world.cat.pk}
    assert ids(cond("score.segment", "is_empty")) == {world.bob.pk}
    assert ids(cond("score.clv", "gte", "100")) == {world.ann.pk}
    assert ids(cond("score.churn_risk", "gt", "0.5")) == {world.cat.pk}


def test_custom_fields(world):
    from rapport.accounts.services import contact_update
    from rapport.records.models import CustomFieldDefinition

    CustomFieldDefinition.objects.create(
        object_type="contact",
        key="tier",
        label="Tier",
        field_type="choice",
        choices=["gold", "silver"],
    )
    CustomFieldDefinition.objects.create(
        object_type="contact", key="seats", label="Seats", field_type="number"
    )
    contact_update(
        contact=world.ann, actor=world.actor, fields={}, custom={"tier": "gold", "seats": 12}
    )
    contact_update(
        contact=world.bob, actor=world.actor, fields={}, custom={"tier": "silver", "seats": 3}
    )
    assert ids(cond("custom.tier", "equals", "gold")) == {world.ann.pk}
    assert ids(cond("custom.seats", "gte", "10")) == {world.ann.pk}
    assert ids(cond("custom.seats", "lt", "10")) == {world.bob.pk}
    assert ids(cond("custom.tier", "is_empty")) == {world.cat.pk}


def test_nested_groups(world):
    tree = {
        "op": "or",
        "items": [
            {
                "op": "and",
                "items": [
                    {"field": "city", "operator": "equals", "value": "Paris"},
                    {"field": "tags", "operator": "equals", "value": "newsletter"},
                ],
            },
            {
                "op": "and",
                "items": [
                    {"field": "title", "operator": "equals", "value": "CEO"},
                    {
                        "op": "or",
                        "items": [
                            {"field": "city", "operator": "is_empty", "value": ""},
                        ],
                    },
                ],
            },
        ],
    }
    assert ids(tree) == {world.ann.pk, world.cat.pk}
    assert len(ids({"op": "and", "items": []})) == 3


def test_a_segment_count_is_one_query(world):
    from rapport.accounts.models import Contact
    from rapport.segments.filters import compile_filter, validate

    tree = validate(
        {
            "op": "and",
            "items": [
                {"field": "orders.total_spend", "operator": "gte", "value": "1"},
                {"field": "activity.any", "operator": "within_days", "value": "30"},
                {
                    "op": "or",
                    "items": [
                        {"field": "account.industry", "operator": "equals", "value": "Retail"},
                        {"field": "score.churn_risk", "operator": "gt", "value": "0.5"},
                    ],
                },
            ],
        }
    )
    q = compile_filter(tree)
    with CaptureQueriesContext(connection) as ctx:
        Contact.objects.filter(q).count()
    assert len(ctx.captured_queries) == 1


@pytest.mark.parametrize(
    "tree,where",
    [
        ({"op": "xor", "items": []}, "filter.op"),
        (cond("nope", "equals", "x"), "filter.items[0].field"),
        (cond("city", "gt", "x"), "filter.items[0].operator"),
        (cond("orders.total_spend", "gte", "lots"), "filter.items[0].value"),
        (cond("activity.call", "within_days", "0"), "filter.items[0].value"),
        (cond("lifecycle", "equals", "happy"), "filter.items[0].value"),
        (
            {
                "op": "and",
                "items": [
                    {
                        "op": "and",
                        "items": [
                            {
                                "op": "and",
                                "items": [
                                    {
                                        "op": "and",
                                        "items": [
                                            {"op": "and", "items": [{"op": "and", "items": []}]}
                                        ],
                                    }
                                ],
                            }
                        ],
                    }
                ],
            },
            "filter.items[0].items[0].items[0].items[0].items[0]",
        ),
    ],
)
def test_bad_filters_name_the_part(db, tree, where):
    from rapport.segments.filters import validate

    with pytest.raises(ValidationError) as exc:
        validate(tree)
    assert where in exc.value.message_dict


def test_and_group_tests_cheap_terms_before_aggregates_and_uses_the_spend_indexes():
    """The three-condition bench segment (bench/bench_segments.py): its SQL tests the row's
    column, then the EXISTS probe, then the SUMs; the account-only orders' sum and the
    activity probe read the segments.0002 indexes (without them SQLite scanned every
    account-only order, or every recent call, for each contact tested)."""
    from rapport.accounts.models import Contact
    from rapport.segments.filters import compile_filter, validate

    tree = validate(
        {
            "op": "and",
            "items": [
                {"field": "orders.total_spend", "operator": "gte", "value": "100"},
                {"field": "activity.call", "operator": "within_days", "value": "90"},
                {"field": "city", "operator": "equals", "value": "Paris"},
            ],
        }
    )
    sql, params = Contact.objects.filter(compile_filter(tree, now=NOW)).query.sql_with_params()
    where = sql.split(" WHERE ", 1)[1]
    city, exists, total = where.find("city"), where.find("EXISTS"), where.find("SUM(")
    assert -1 < city < exists < total
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "orders_account_spend_idx" in plan
        assert "activities_contact_kind_idx" in plan
