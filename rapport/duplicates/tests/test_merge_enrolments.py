"""Merging two people moves the merged one's sequence enrolments to the survivor; an open
enrolment in a sequence the survivor is already open in is stopped (once at a time), and undo
moves the moved ones back."""

import pytest

from rapport.duplicates.services import merge_undo, record_merge
from rapport.sequences.models import Enrolment
from rapport.sequences.services import enrolment_create, enrolment_stop, sequence_create

pytestmark = pytest.mark.django_db

STEPS = [
    {"kind": "call", "subject": "Call them"},
    {"kind": "wait", "wait_days": 3},
    {"kind": "task", "subject": "Follow up"},
]


def test_enrolments_follow_the_merged_person_and_never_double(personas, make_contact):
    owner = personas.owner
    survivor = make_contact(first_name="Jane", last_name="Doe")
    merged = make_contact(first_name="Janet", last_name="Doe")
    intro = sequence_create(actor=owner, fields={"name": "Intro"}, steps=STEPS)
    renewal = sequence_create(actor=owner, fields={"name": "Renewal"}, steps=STEPS)
    old = sequence_create(actor=owner, fields={"name": "Old"}, steps=STEPS)
    enrolment_create(sequence=intro, actor=owner, record=survivor)
    clash = enrolment_create(sequence=intro, actor=owner, record=merged)  # both open in Intro
    moving = enrolment_create(sequence=renewal, actor=owner, record=merged)
    done = enrolment_create(sequence=old, actor=owner, record=merged)
    enrolment_stop(enrolment=done, actor=owner)
    assert {e.state for e in Enrolment.objects.filter(pk__in=[clash.pk, moving.pk])} == {"active"}

    log = record_merge(
        object_type="contact", survivor=survivor, merged=merged, field_choices={}, actor=owner
    )

    clash.refresh_from_db()
    assert clash.contact_id == merged.pk and clash.state == "stopped"
    assert Enrolment.objects.get(pk=moving.pk).contact_id == survivor.pk
    assert Enrolment.objects.get(pk=done.pk).contact_id == survivor.pk
    assert sorted(log.moved["sequences.Enrolment.contact"]) == sorted([moving.pk, done.pk])
    # The survivor is in each sequence at most once while open.
    open_rows = Enrolment.objects.filter(contact=survivor, state__in=["active", "paused"])
    sequences = list(open_rows.values_list("sequence_id", flat=True))
    assert len(sequences) == len(set(sequences)) == 2

    merge_undo(log=log, actor=owner)
    assert Enrolment.objects.get(pk=moving.pk).contact_id == merged.pk
    assert Enrolment.objects.get(pk=done.pk).contact_id == merged.pk


def test_a_lead_merge_moves_its_enrolments(personas, make_lead):
    owner = personas.owner
    survivor = make_lead(last_name="Moreau", company="Fromagerie")
    merged = make_lead(last_name="Moreau", company="Fromagerie Moreau")
    intro = sequence_create(actor=owner, fields={"name": "Intro"}, steps=STEPS)
    enrolment = enrolment_create(sequence=intro, actor=owner, record=merged)
    log = record_merge(
        object_type="lead", survivor=survivor, merged=merged, field_choices={}, actor=owner
    )
    assert Enrolment.objects.get(pk=enrolment.pk).lead_id == survivor.pk
    assert log.moved["sequences.Enrolment.lead"] == [enrolment.pk]
