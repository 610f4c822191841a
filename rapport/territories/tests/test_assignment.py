"""Assignment rules: ordered rules, round robin fairness (also under concurrent creation on
PostgreSQL), least loaded, the territory's rep, capacity, absence and working hours; the
`assigned` event; the automation action."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from rapport.calendars.models import BusinessCalendar
from rapport.identity.models import Role, User
from rapport.identity.services import team_create, user_create
from rapport.leads.models import Lead
from rapport.leads.services import lead_create
from rapport.territories import services
from rapport.territories.models import AssignmentRule, RepAvailability, Strategy
from rapport.timeline.models import TimelineEvent


@pytest.fixture
def squad(db):
    team = team_create(name="Inbound")
    reps = [user_create(username=f"rep{i}", team=team) for i in range(3)]
    creator = user_create(username="webform", role=Role.ADMIN)
    return team, reps, creator


def _rule(**kw) -> AssignmentRule:
    kw.setdefault("name", "Rule")
    return AssignmentRule.objects.create(object_type="lead", **kw)


def _new(creator, n=1, **fields):
    return [lead_create(actor=creator, fields={"last_name": f"L{i}", **fields}) for i in range(n)]


@pytest.mark.django_db
def test_round_robin_is_fair_and_logs_assigned(squad):
    team, reps, creator = squad
    _rule(strategy=Strategy.ROUND_ROBIN, team=team)
    leads = _new(creator, 9)
    owners = [lead.owner_id for lead in leads]
    assert owners == [r.pk for r in reps] * 3
    event = TimelineEvent.objects.filter(lead=leads[0], kind="assigned").get()
    assert event.payload["strategy"] == "round_robin"


@pytest.mark.django_db
def test_first_matching_rule_wins_and_explicit_owner_is_kept(squad):
    team, reps, creator = squad
    _rule(
        name="Web to rep2",
        position=0,
        conditions={"source": ["web"]},
        strategy=Strategy.USER,
        user=reps[2],
    )
    _rule(name="Rest", position=1, strategy=Strategy.ROUND_ROBIN, team=team)
    (web,) = _new(creator, source="Web")
    (other,) = _new(creator, source="event")
    assert web.owner_id == reps[2].pk
    assert other.owner_id == reps[0].pk
    chosen = lead_create(
        actor=creator, owner=reps[1], fields={"last_name": "Mine", "source": "web"}
    )
    assert Lead.objects.get(pk=chosen.pk).owner_id == reps[1].pk


@pytest.mark.django_db
def test_capacity_absence_and_working_hours_are_respected(squad):
    team, reps, creator = squad
    _rule(strategy=Strategy.ROUND_ROBIN, team=team)
    now = timezone.now()
    RepAvailability.objects.create(user=reps[0], capacity=1)
    RepAvailability.objects.create(
        user=reps[1],
        away_from=now - datetime.timedelta(hours=1),
        away_until=now + datetime.timedelta(days=1),
    )
    closed = BusinessCalendar.objects.create(name="Never open", time_zone="UTC")
    RepAvailability.objects.create(user=reps[2], calendar=closed)
    leads = _new(creator, 3)
    # rep0 takes one (capacity 1), rep1 is away, rep2 is off hours: the rest stay with the creator.
    assert [lead.owner_id for lead in leads] == [reps[0].pk, creator.pk, creator.pk]
    # Back from absence: rep1 takes the next.
    RepAvailability.objects.filter(user=reps[1]).update(
        away_until=now - datetime.timedelta(minutes=1)
    )
    assert _new(creator)[0].owner_id == reps[1].pk


@pytest.mark.django_db
def test_least_loaded_picks_the_emptiest_queue(squad):
    team, reps, creator = squad
    for i in range(2):
        lead_create(actor=creator, owner=reps[0], fields={"last_name": f"a{i}"})
    lead_create(actor=creator, owner=reps[1], fields={"last_name": "b"})
    _rule(strategy=Strategy.LEAST_LOADED, team=team)
    owners = [lead.owner_id for lead in _new(creator, 3)]
    assert owners == [reps[2].pk, reps[1].pk, reps[2].pk]


@pytest.mark.django_db
def test_the_territorys_rep_gets_the_lead(squad, personas):
    team, reps, creator = squad
    t = services.territory_save(actor=personas.admin, fields={"name": "Nordics"})
    services.territory_set_rules(
        actor=personas.admin, territory=t, rules=[{"field": "country", "values": ["SE", "NO"]}]
    )
    services.territory_set_members(
        actor=personas.admin, territory=t, reps=[reps[1], reps[2]], managers=[]
    )
    _rule(strategy=Strategy.TERRITORY_REP)
    a, b, c = _new(creator, 3, country="SE")
    assert [a.owner_id, b.owner_id, c.owner_id] == [reps[1].pk, reps[2].pk, reps[1].pk]
    (us,) = _new(creator, country="US")
    assert us.owner_id == creator.pk  # no territory, no rep: the rule does not apply


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_round_robin_stays_fair_under_concurrent_creation():
    team = team_create(name="Race")
    reps = [user_create(username=f"racer{i}", team=team) for i in range(3)]
    creator = user_create(username="racer-admin", role=Role.ADMIN)
    _rule(strategy=Strategy.ROUND_ROBIN, team=team)
    start = threading.Barrier(4)
    errors = []

    def worker(n):
        try:
            start.wait()
            for i in range(6):
                lead_create(
                    actor=User.objects.get(pk=creator.pk), fields={"last_name": f"w{n}-{i}"}
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    counts = [Lead.objects.filter(owner=r).count() for r in reps]
    assert counts == [8, 8, 8]


@pytest.mark.django_db
def test_the_new_lead_form_leaves_the_owner_to_the_rules(squad, client):
    from django.urls import reverse

    team, reps, creator = squad
    _rule(strategy=Strategy.ROUND_ROBIN, team=team)
    client.force_login(creator)
    page = client.get(reverse("leads:lead_create"))
    assert "Assign by the assignment rules" in page.content.decode()
    response = client.post(
        reverse("leads:lead_create"), {"last_name": "Formy", "status": "new", "owner": ""}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Lead.objects.get(last_name="Formy").owner_id == reps[0].pk
    client.post(
        reverse("leads:lead_create"),
        {"last_name": "Chosen", "status": "new", "owner": str(reps[2].pk)},
    )
    assert Lead.objects.get(last_name="Chosen").owner_id == reps[2].pk


@pytest.mark.django_db
def test_the_automation_action_applies_the_same_rules(squad):
    from types import SimpleNamespace

    from rapport.automation.actions import ActionContext, ActionFailed, get_action

    team, reps, creator = squad
    lead = lead_create(actor=creator, owner=creator, fields={"last_name": "Later"})
    spec = get_action("assign_by_rules")
    ctx = ActionContext(
        run=SimpleNamespace(object_type="lead", pk=1),
        rule=None,
        subject=lead,
        actor=creator,
        event={},
        now=timezone.now(),
    )
    with pytest.raises(ActionFailed):
        spec.handler(ctx, {})  # no rule yet
    _rule(strategy=Strategy.LEAST_LOADED, team=team)
    assert spec.handler(ctx, {}) == {"owner_id": reps[0].pk}
    assert Lead.objects.get(pk=lead.pk).owner_id == reps[0].pk
