"""Realignment places records in SQL (`placement_sql`): on a planted dataset with every rule
kind and the edge cases of each (case and whitespace, postcodes with letters, spaces and
leading zeros, revenue bounds, named accounts and leads named like them, soft-deleted
records), the database's placement equals the Python `Placer`'s record by record, and a
realignment's preview and run agree with it."""

import itertools
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from rapport.accounts.models import Account
from rapport.leads.models import Lead
from rapport.territories import placement, placement_sql, services
from rapport.territories.models import Realignment, TerritoryMembership
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db

COUNTRIES = ["FR", "fr", "De", "ES", "US", "", "gb", "JP"]
REGIONS = ["Bavaria", "bavaria ", "IDF", "", "Ontario"]
INDUSTRIES = ["Software", "SOFTWARE", "Retail", "", "Media "]
SIZES = ["", "small", "medium", "large", "enterprise"]
POSTCODES = [
    "75008",
    "75 008",
    "7500",
    "075008",
    "80331",
    "",
    "SW1A 1AA",
    "sw1a1aa",
    "EC1",
    "99999",
    "1000",
    "10000",
    "49999",
    "50000",
    "00012",
]
REVENUES = [None, Decimal("0"), Decimal("999999.99"), Decimal("1000000"), Decimal("25000000.50")]
COMPANIES = ["Acme", " acme ", "ACME", "Globex", "", "Initech"]


def _plant(owner, n=240, seed=7):
    rng = random.Random(seed)
    accounts = Account.objects.bulk_create(
        [
            Account(
                owner=owner,
                name=["Acme", "Globex", "Initech", f"Co {i}"][i % 4],
                country=rng.choice(COUNTRIES),
                region=rng.choice(REGIONS),
                industry=rng.choice(INDUSTRIES),
                size=rng.choice(SIZES),
                postal_code=rng.choice(POSTCODES),
                annual_revenue=rng.choice(REVENUES),
            )
            for i in range(n)
        ]
    )
    Lead.objects.bulk_create(
        [
            Lead(
                owner=owner,
                last_name=f"L{i}",
                company=rng.choice(COMPANIES),
                country=rng.choice(COUNTRIES),
                region=rng.choice(REGIONS),
                industry=rng.choice(INDUSTRIES),
                postal_code=rng.choice(POSTCODES),
                status="new",
            )
            for i in range(n)
        ]
    )
    # Soft-deleted records are left where they are by both paths.
    Account.all_objects.filter(pk=accounts[0].pk).update(deleted_at=timezone.now())
    return accounts


def _rules(admin, accounts):
    acme = next(a for a in accounts[1:] if a.name == "Acme")
    specs = [
        ("Named", [{"field": "named_account", "values": [str(acme.pk), "999999999"]}]),
        (
            "Paris big",
            [
                {"field": "country", "values": ["fr"]},
                {"field": "postal_code", "low": "75000", "high": "75999"},
                {"field": "annual_revenue", "low": "1000000"},
            ],
        ),
        ("UK letters", [{"field": "postal_code", "low": "EC1", "high": "SW9"}]),
        ("Small band", [{"field": "annual_revenue", "high": "999999.99"}]),
        ("Bavaria", [{"field": "region", "values": ["BAVARIA"]}]),
        (
            "Software big",
            [
                {"field": "industry", "values": ["software"]},
                {"field": "size", "values": ["large", "enterprise"]},
            ],
        ),
        ("Low postcodes", [{"field": "postal_code", "low": "1000", "high": "49999"}]),
        ("Open high", [{"field": "postal_code", "low": "80000"}]),
        ("Europe", [{"field": "country", "values": ["FR", "DE", "ES", "GB"]}]),
    ]
    for priority, (name, rules) in enumerate(specs):
        t = services.territory_save(actor=admin, fields={"name": name, "priority": priority})
        services.territory_set_rules(actor=admin, territory=t, rules=rules)


def _python_placement(object_type):
    placer = placement.Placer()
    rows = placement.model_of(object_type).objects.values(*placement._ROW_FIELDS[object_type])
    return {row["id"]: placer.territory_for(object_type, row) for row in rows}


def _sql_placement(object_type):
    placer = placement.Placer()
    TerritoryMembership.objects.filter(object_type=object_type).delete()
    ids = placement.model_of(object_type).all_objects.values_list("id", flat=True)
    _, moves = placement_sql.batch_moves(object_type, placer, min(ids), max(ids) + 1)
    live = set(placement.model_of(object_type).objects.values_list("id", flat=True))
    return {pk: None for pk in live} | {pk: new for pk, _, new in moves}


def test_sql_placement_equals_python_for_every_rule_kind(personas):
    accounts = _plant(personas.owner)
    _rules(personas.admin, accounts)
    for object_type in placement.PLACED_TYPES:
        expected = _python_placement(object_type)
        got = _sql_placement(object_type)
        assert got == expected, object_type
        # The dataset exercises the rules: most territories receive someone.
        assert len({t for t in expected.values() if t}) >= (7 if object_type == "account" else 4)
    assert accounts[0].pk not in _sql_placement("account")


def test_postcode_edge_cases_agree():
    cases = ["7500", "75000", "075000", "75 999", "76000", "", "7A", "ABC", "0", "000"]
    bounds = [("75000", "75999"), ("", "9"), ("0", ""), ("7A", "7Z"), ("100", "")]
    for value, (low, high) in itertools.product(cases, bounds):
        check = placement._Check(field="postal_code", values=frozenset(), low=low, high=high)
        sql, params = placement_sql._check_sql("account", check, "r")
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT CASE WHEN {sql} THEN 1 ELSE 0 END FROM (SELECT %s AS postal_code) r",
                [*params, value],
            )
            got = bool(cursor.fetchone()[0])
        assert got == placement._in_range(value, low, high), (value, low, high)


def test_realignment_run_and_preview_match_python(personas):
    admin = personas.admin
    accounts = _plant(personas.owner, n=120, seed=3)
    _rules(admin, accounts)
    services.realignment_run(Realignment.objects.create(requested_by=admin).pk)
    for object_type in placement.PLACED_TYPES:
        placed = dict(
            TerritoryMembership.objects.filter(object_type=object_type).values_list(
                "object_id", "territory_id"
            )
        )
        expected = {k: v for k, v in _python_placement(object_type).items() if v}
        assert placed == expected
    # Reorder: the preview counts exactly what the run then moves, events included.
    from rapport.territories.models import Territory

    Territory.objects.filter(name="Europe").update(priority=-1)
    preview = services.realignment_preview(actor=admin, sample=5)
    before = TimelineEvent.objects.filter(kind="territory_changed").count()
    run = services.realignment_run(Realignment.objects.create(requested_by=admin).pk)
    assert preview["total"] == run.moved > 0
    assert len(preview["sample"]) == 5
    assert sum(f["count"] for f in preview["flows"]) == run.moved
    assert TimelineEvent.objects.filter(kind="territory_changed").count() - before == run.moved
    for object_type in placement.PLACED_TYPES:
        placed = dict(
            TerritoryMembership.objects.filter(object_type=object_type).values_list(
                "object_id", "territory_id"
            )
        )
        assert placed == {k: v for k, v in _python_placement(object_type).items() if v}
    assert services.realignment_preview(actor=admin)["total"] == 0


def test_realignment_events_written_in_sql_match_the_python_events(personas):
    """The set-based run writes each move's membership and its `territory_changed` event
    (summary with names, payload, actor, link) as the per-record path would, takes records
    out of a territory that no longer applies, and tells the timeline listeners."""
    from rapport.territories.models import Territory
    from rapport.timeline import hooks

    admin = personas.admin
    accounts = _plant(personas.owner, n=80, seed=5)
    _rules(admin, accounts)
    services.realignment_run(Realignment.objects.create(requested_by=admin).pk)
    before = {
        ot: dict(
            TerritoryMembership.objects.filter(object_type=ot).values_list(
                "object_id", "territory_id"
            )
        )
        for ot in placement.PLACED_TYPES
    }
    # Europe first (moves), Bavaria switched off (its records go elsewhere or nowhere).
    Territory.objects.filter(name="Europe").update(priority=-1)
    Territory.objects.filter(name="Bavaria").update(is_active=False)
    heard = []
    hooks._listeners.append(heard.extend)
    try:
        first = TimelineEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        run = services.realignment_run(Realignment.objects.create(requested_by=admin).pk)
    finally:
        hooks._listeners.remove(heard.extend)
    names = placement.territory_names()
    expected = {}
    for ot in placement.PLACED_TYPES:
        after = {k: v for k, v in _python_placement(ot).items() if v}
        placed = dict(
            TerritoryMembership.objects.filter(object_type=ot).values_list(
                "object_id", "territory_id"
            )
        )
        assert placed == after
        live = set(placement.model_of(ot).objects.values_list("id", flat=True))
        for pk in live:
            old, new = before[ot].get(pk), after.get(pk)
            if old != new:
                expected[(ot, pk)] = (old, new)
    assert any(new is None for _, new in expected.values())  # a membership removed
    assert run.moved == len(expected) > 0
    events = TimelineEvent.objects.filter(id__gt=first, kind="territory_changed")
    got = {}
    for e in events:
        ot = "account" if e.account_id else "lead"
        pk = e.account_id or e.lead_id
        old, new = expected[(ot, pk)]
        assert e.summary == (
            f"Territory: {names.get(old, 'none') if old else 'none'} → "
            f"{names.get(new, 'none') if new else 'none'}"
        )
        assert e.payload == {"territory": {"old": old, "new": new}, "reason": "realignment"}
        assert e.actor_id == admin.pk
        got[(ot, pk)] = (old, new)
    assert got == expected
    assert len(heard) == len(expected)
    assert {
        (("account", e["account_id"]) if "account_id" in e else ("lead", e["lead_id"]))
        for e in heard
        if e["kind"] == "territory_changed"
    } == set(expected)
