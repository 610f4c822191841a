"""Detection runs: planted duplicates are found, distinct people are not, reruns are
idempotent, dismissed pairs stay dismissed, and the work stays within blocks."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from rapport.accounts.models import Contact
from rapport.accounts.services import contact_delete, contact_update
from rapport.duplicates.models import (
    CandidateStatus,
    DuplicateCandidate,
    DuplicateKey,
    DuplicateRun,
    RunStatus,
)
from rapport.duplicates.services import candidate_dismiss, duplicates_find
from rapport.duplicates.services.detection import BLOCK_CAP, WINDOW, block_bound
from rapport.records.exceptions import Conflict

pytestmark = pytest.mark.django_db


def pairs(object_type="contact", status=None) -> set[tuple[int, int]]:
    qs = DuplicateCandidate.objects.filter(object_type=object_type)
    if status:
        qs = qs.filter(status=status)
    return set(qs.values_list("record_a_id", "record_b_id"))


def pair(a, b) -> tuple[int, int]:
    return tuple(sorted((a.pk, b.pk)))


@pytest.fixture
def planted(make_contact):
    """Three planted duplicates among people who merely look alike."""
    return {
        "email": (
            make_contact(first_name="Jane", last_name="Doe", email="Jane.Doe@Example.com"),
            make_contact(first_name="J.", last_name="Doe", email="jane.doe@example.com"),
        ),
        "phone": (
            make_contact(first_name="Kim", last_name="Park", phone="(650) 253-0000"),
            make_contact(first_name="Kim", last_name="Park", phone="+1 650 253 0000"),
        ),
        "name": (
            make_contact(first_name="Jonathan", last_name="Smith", city="Leeds"),
            make_contact(first_name="Jonathon", last_name="Smyth", city="Leeds"),
        ),
        "distinct": (
            make_contact(
                first_name="Anna", last_name="Müller", email="anna@acme.io", city="Berlin"
            ),
            make_contact(
                first_name="Peter", last_name="Müller", email="peter@acme.io", city="Berlin"
            ),
            make_contact(first_name="Jonathan", last_name="Smith", city="York"),
            make_contact(first_name="Alice", last_name="Wong", phone="+1 650 253 0000"),
        ),
    }


def test_planted_duplicates_are_found_and_distinct_people_are_not(planted):
    run = duplicates_find(object_type="contact")
    assert run.status == RunStatus.DONE and run.mode == "full"
    found = pairs()
    for kind in ("email", "phone", "name"):
        assert pair(*planted[kind]) in found, kind
    anna, peter, york_smith, alice = planted["distinct"]
    assert pair(anna, peter) not in found
    assert pair(york_smith, planted["name"][0]) not in found
    assert pair(alice, planted["phone"][0]) not in found
    email_pair = DuplicateCandidate.objects.get(
        record_a_id=pair(*planted["email"])[0], record_b_id=pair(*planted["email"])[1]
    )
    assert "same email" in email_pair.reasons
    assert email_pair.score >= 60


def test_a_phone_stored_unnormalised_still_matches(personas, make_contact):
    a = make_contact(first_name="Kim", last_name="Park", phone="+16502530000")
    # An import in raw SQL may bypass the services' normalisation.
    b = Contact.objects.create(
        owner=personas.owner,
        team=personas.team_a,
        first_name="Kim",
        last_name="Park",
        phone="(650) 253-0000",
    )
    duplicates_find(object_type="contact")
    assert pair(a, b) in pairs()


def test_rerun_adds_nothing_twice_and_dismissed_pairs_stay_dismissed(personas, planted):
    duplicates_find(object_type="contact")
    first = DuplicateCandidate.objects.count()
    email_pair = DuplicateCandidate.objects.get(record_a_id=pair(*planted["email"])[0])
    candidate_dismiss(candidate=email_pair, actor=personas.owner)
    for full in (True, False, True):
        duplicates_find(object_type="contact", full=full)
        assert DuplicateCandidate.objects.count() == first
    email_pair.refresh_from_db()
    assert email_pair.status == CandidateStatus.DISMISSED


def test_open_pairs_that_no_longer_match_are_removed_and_rescored(personas, planted):
    duplicates_find(object_type="contact")
    a, b = planted["name"]
    contact_update(contact=b, actor=personas.owner, fields={"first_name": "Zed", "city": "Oslo"})
    run = duplicates_find(object_type="contact")
    assert run.mode == "incremental"
    assert pair(a, b) not in pairs()
    assert run.candidates_removed == 1
    contact_update(
        contact=b,
        actor=personas.owner,
        fields={"first_name": "Jonathan", "city": "Leeds", "last_name": "Smith"},
    )
    duplicates_find(object_type="contact")
    assert (
        DuplicateCandidate.objects.get(
            record_a_id=pair(a, b)[0], record_b_id=pair(a, b)[1]
        ).reasons[0]
        == "same name"
    )


def test_incremental_run_compares_only_changed_records(make_contact):
    for i in range(30):
        make_contact(first_name=f"P{i}", last_name="Doe", city="Rome")
    full = duplicates_find(object_type="contact")
    late = make_contact(first_name="Jane", last_name="Doe", email="jane@x.example", city="Rome")
    twin = make_contact(first_name="Jane", last_name="Doe", email="jane@x.example")
    run = duplicates_find(object_type="contact")
    assert run.mode == "incremental" and run.records == 2
    assert pair(late, twin) in pairs()
    # Each changed record meets the members of its blocks, not every pair again.
    assert run.pairs_compared < full.pairs_compared
    assert run.pairs_compared <= 2 * 31


def test_deleted_records_are_not_candidates_and_lose_their_keys(personas, planted):
    a, b = planted["email"]
    contact_delete(contact=b, actor=personas.owner)
    duplicates_find(object_type="contact")
    assert pair(a, b) not in pairs()
    assert not DuplicateKey.objects.filter(object_type="contact", record_id=b.pk).exists()


def test_work_stays_within_blocks_and_never_grows_quadratically(personas):
    """400 namesakes in one city (one giant block) plus 400 people with unique names:
    only neighbours are compared inside the giant block and nothing across blocks."""
    rows = [
        Contact(
            owner=personas.owner,
            team=personas.team_a,
            first_name="Jo",
            last_name="Doe",
            city="Rome",
        )
        for _ in range(400)
    ]
    letters = "bcdfgklmnprstvz"
    rows += [
        Contact(
            owner=personas.owner,
            team=personas.team_a,
            first_name=letters[(i // 15) % 15].upper() + "o",
            last_name="".join(letters[(i // 15**k) % 15] + "a" for k in range(3)).title(),
        )
        for i in range(400)
    ]
    Contact.objects.bulk_create(rows)
    run = duplicates_find(object_type="contact")
    n = Contact.objects.count()
    assert run.largest_block == 400
    assert run.pairs_compared <= run.pairs_bound
    assert block_bound(400) < 400 * WINDOW
    # Linear: each filed key costs at most max(window, (cap - 1) / 2) comparisons.
    assert run.pairs_bound <= run.keys * max(WINDOW, (BLOCK_CAP - 1) / 2)
    assert run.pairs_bound < 3 * 400 * WINDOW
    assert run.pairs_compared < n * (n - 1) // 2 / 30


def test_block_bound_is_all_pairs_up_to_the_cap_then_linear():
    assert block_bound(BLOCK_CAP) == BLOCK_CAP * (BLOCK_CAP - 1) // 2
    assert block_bound(10_000) < 10_000 * WINDOW


def test_accounts_and_leads_are_found_too(make_account, make_lead):
    a = make_account(name="ACME, Inc.", website="https://www.acme.io")
    b = make_account(name="Acme GmbH", domain="acme.io")
    make_account(name="Globex Corporation", website="https://globex.com")
    duplicates_find(object_type="account")
    assert pairs("account") == {pair(a, b)}
    l1 = make_lead(first_name="Jane", last_name="Doe", email="jane.doe@gmail.com")
    l2 = make_lead(first_name="Jane", last_name="Doe", email="janedoe+ads@googlemail.com")
    duplicates_find(object_type="lead")
    assert pairs("lead") == {pair(l1, l2)}


def test_a_second_run_while_one_is_running_is_a_conflict():
    DuplicateRun.objects.create(object_type="contact", mode="full", started_at=timezone.now())
    with pytest.raises(Conflict) as exc:
        duplicates_find(object_type="contact")
    assert exc.value.code == "run_in_progress"


def test_after_a_failed_run_the_next_one_is_full(planted):
    duplicates_find(object_type="contact")
    DuplicateRun.objects.create(
        object_type="contact",
        mode="incremental",
        status=RunStatus.FAILED,
        started_at=timezone.now(),
    )
    assert duplicates_find(object_type="contact").mode == "full"


def test_management_command_and_task_run_detection(planted, capsys):
    from rapport.duplicates.tasks import find_duplicates_task

    call_command("find_duplicates", "--object", "contacts")
    out = capsys.readouterr().out
    assert "contact: full run" in out and "pairs compared" in out
    assert pair(*planted["email"]) in pairs()
    result = find_duplicates_task.enqueue(object_type="contact", full=True)
    assert result.return_value["mode"] == "full"
    assert DuplicateRun.objects.filter(status=RunStatus.DONE).count() == 2
