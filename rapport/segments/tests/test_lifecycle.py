"""Lifecycle stages under a frozen clock: derived from orders, activities and churn risk,
recomputed on order placed and nightly, with history, timeline events and triggers."""

import datetime

import pytest
import time_machine

from rapport.activities.services import activity_log
from rapport.analytics.models import CustomerScore
from rapport.automation.models import TriggerEvent
from rapport.segments import lifecycle, services
from rapport.segments.membership import segments_refresh_all
from rapport.segments.models import ContactLifecycle, LifecycleChange, SegmentMember
from rapport.segments.tests.conftest import NOW, cond, place
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


def stage(contact) -> str:
    return ContactLifecycle.objects.get(contact=contact).stage


def test_a_buyers_journey(world, frozen, make_rule):
    make_rule(name="Stage watch", trigger_type="record.updated", object_type="contact")
    ann = world.ann
    assert stage(ann) == "prospect"
    activity_log(
        actor=world.actor,
        kind="call",
        fields={"subject": "Intro", "occurred_at": NOW},
        links={"contact_id": ann.pk},
    )
    assert stage(ann) == "lead"
    place(world.actor, contact=ann, days_ago=0)
    assert stage(ann) == "first_time_buyer"
    place(world.actor, contact=ann, days_ago=0)
    assert stage(ann) == "repeat_buyer"
    for _ in range(3):
        place(world.actor, contact=ann, days_ago=0)
    assert stage(ann) == "loyal"
    history = list(
        LifecycleChange.objects.filter(contact=ann)
        .order_by("id")
        .values_list("from_stage", "to_stage")
    )
    assert history == [
        ("prospect", "lead"),
        ("lead", "first_time_buyer"),
        ("first_time_buyer", "repeat_buyer"),
        ("repeat_buyer", "loyal"),
    ]
    event = TimelineEvent.objects.filter(contact=ann, payload__action="lifecycle").first()
    assert event.payload["changes"]["lifecycle.stage"] == {"old": "repeat_buyer", "new": "loyal"}
    # the automation engine sees the change as a record update of the contact
    assert TriggerEvent.objects.filter(
        event_type="record.updated", object_id=ann.pk, payload__action="lifecycle"
    ).exists()

    # no order for 200 days: at risk, then after 400 days lost (the nightly pass)
    frozen.move_to(NOW + datetime.timedelta(days=200))
    segments_refresh_all()
    assert stage(ann) == "at_risk"
    frozen.move_to(NOW + datetime.timedelta(days=400))
    segments_refresh_all()
    assert stage(ann) == "lost"
    place(world.actor, contact=ann, days_ago=0, now=NOW + datetime.timedelta(days=400))
    assert stage(ann) == "repeat_buyer"  # a comeback: recent, but not 5 orders in 12 months


def test_churn_risk_makes_a_buyer_at_risk(world, frozen):
    place(world.actor, contact=world.cat, days_ago=1)
    assert stage(world.cat) == "first_time_buyer"
    CustomerScore.objects.create(contact=world.cat, churn_risk=0.8, computed_at=NOW)
    assert lifecycle.lifecycle_recompute(now=NOW) == 1
    assert stage(world.cat) == "at_risk"


def test_rules_are_data_an_admin_tunes(world, frozen, personas):
    place(world.actor, contact=world.bob, days_ago=1)
    place(world.actor, contact=world.bob, days_ago=1)
    assert stage(world.bob) == "repeat_buyer"
    rules = lifecycle.rules_get()
    lifecycle.lifecycle_rules_update(
        actor=personas.admin, fields={"loyal_min_orders": 2}, expected_version=rules.version
    )
    segments_refresh_all(now=NOW)
    assert stage(world.bob) == "loyal"


def test_rules_are_validated_and_admin_only(world, personas):
    from django.core.exceptions import ValidationError

    from rapport.records.exceptions import PermissionDenied, StaleVersion

    with pytest.raises(PermissionDenied):
        lifecycle.lifecycle_rules_update(actor=personas.owner, fields={"lost_days": 10})
    with pytest.raises(ValidationError) as exc:
        lifecycle.lifecycle_rules_update(actor=personas.admin, fields={"lost_days": 10})
    assert "lost_days" in exc.value.message_dict
    with pytest.raises(StaleVersion):
        lifecycle.lifecycle_rules_update(
            actor=personas.admin, fields={"lost_days": 999}, expected_version=99
        )


def test_lifecycle_segments_follow_the_stage(world, frozen):
    seg = services.segment_create(
        name="Buyers",
        actor=world.actor,
        filter=cond("lifecycle", "in", "first_time_buyer,repeat_buyer"),
    )
    assert not SegmentMember.objects.filter(segment=seg).exists()
    place(world.actor, contact=world.bob, days_ago=0)
    assert set(SegmentMember.objects.filter(segment=seg).values_list("contact_id", flat=True)) == {
        world.bob.pk
    }
    with time_machine.travel(NOW + datetime.timedelta(days=500), tick=False):
        segments_refresh_all()
    assert not SegmentMember.objects.filter(segment=seg).exists()
