"""Browser journey in Chromium: review a pair, pick a value, merge, undo; and the
"looks like an existing record" warning on create."""

import datetime

import pytest

from rapport.accounts.models import Contact
from rapport.accounts.services import contact_create
from rapport.activities.models import Activity
from rapport.activities.services import activity_log
from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.duplicates.models import CandidateStatus, DuplicateCandidate, MergeLog
from rapport.identity.services import team_create, user_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = datetime.datetime(2025, 3, 1, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def rep(transactional_db):
    return user_create(
        username="rita",
        first_name="Rita",
        last_name="Rep",
        team=team_create(name="Field"),
        validate=False,
    )


@pytest.fixture(autouse=True)
def _signed_in(page, rep):
    sign_in(page, rep)


def _contact(rep, **fields):
    emails = [{"email": fields.pop("email"), "is_primary": True}]
    return contact_create(actor=rep, fields=fields, emails=emails)


def test_review_a_pair_pick_a_value_merge_and_undo(page, rep, screenshot):
    a = _contact(rep, first_name="Jane", last_name="Doe", email="jane@acme.io", title="CTO")
    b = _contact(
        rep,
        first_name="Jane",
        last_name="Doe",
        email="jane.doe@acme.io",
        title="VP Sales",
        city="Paris",
    )
    call, _ = activity_log(
        actor=rep, kind="call", fields={"subject": "Intro call"}, links={"contact_id": b.pk}
    )
    pair = DuplicateCandidate.objects.create(
        object_type="contact",
        record_a_id=a.pk,
        record_b_id=b.pk,
        score=92,
        reasons=["same name", "same company domain"],
        found_at=NOW,
        scored_at=NOW,
    )

    page.goto("/")
    page.click(".sidebar a:has-text('Duplicates')")
    page.wait_for_selector(f"#pair-{pair.pk}")
    screenshot(page, "duplicates-queue")

    page.click(f"#pair-{pair.pk} a:has-text('Compare')")
    page.wait_for_selector("h1:has-text('Compare contacts')")
    # Defaults: A survives; A's title; B's city (A has none).
    assert page.is_checked("input[name=survivor][value=a]")
    assert page.is_checked("input[name=pick_title][value=a]")
    assert page.is_checked("input[name=pick_city][value=b]")
    page.check("input[name=pick_title][value=b]")  # keep B's "VP Sales"
    screenshot(page, "duplicates-compare", full_page=True)

    page.click("button:has-text('Merge')")
    page.wait_for_selector(".toast:has-text('Merged Jane Doe into Jane Doe.')")
    screenshot(page, "duplicates-merged")
    a.refresh_from_db()
    assert (a.title, a.city) == ("VP Sales", "Paris")
    assert Contact.all_objects.get(pk=b.pk).deleted_at is not None
    assert Activity.objects.get(pk=call.pk).contact_id == a.pk
    assert page.locator(f"#pair-{pair.pk}").count() == 0

    page.click(".toast button:has-text('Undo')")
    page.wait_for_selector(".toast:has-text('Merge undone')")
    page.wait_for_selector("h1:has-text('Compare contacts')")
    a.refresh_from_db()
    assert a.title == "CTO" and a.city == ""
    assert Contact.objects.filter(pk=b.pk).exists()
    assert Activity.objects.get(pk=call.pk).contact_id == b.pk
    assert DuplicateCandidate.objects.get(pk=pair.pk).status == CandidateStatus.OPEN
    screenshot(page, "duplicates-undone")

    page.click("a:has-text('Back to the queue')")
    page.click("a.tab:has-text('Merge history')")
    page.wait_for_selector(f"#merge-{MergeLog.objects.get().pk}:has-text('Undone')")
    screenshot(page, "duplicates-history")

    page.goto(f"/duplicates/{pair.pk}/")
    shots_at_both_sizes(page, screenshot, "duplicates-compare")
    page.set_viewport_size({"width": 390, "height": 844})  # dismissed on a phone

    page.click("button:has-text('Not a duplicate')")
    page.wait_for_selector(".toast:has-text('Marked as not duplicates')")
    assert DuplicateCandidate.objects.get(pk=pair.pk).status == CandidateStatus.DISMISSED
    assert page.dialogs == []


def test_create_warns_about_a_look_alike_then_create_anyway(page, rep, screenshot):
    existing = _contact(rep, first_name="Nora", last_name="Lindqvist", email="nora@nw.example")
    page.goto("/contacts/new")
    page.fill("#id_first_name", "Nora")
    page.fill("#id_last_name", "Lindqvist")
    page.fill("#id_email", "Nora@NW.example")
    page.click("button:has-text('Create contact')")
    page.wait_for_selector("#possible-duplicates:has-text('Looks like an existing record')")
    link = page.locator(f"#possible-duplicates a[href='/contacts/{existing.pk}/']")
    assert link.count() == 1
    assert Contact.objects.count() == 1
    screenshot(page, "duplicates-create-warning")
    page.click("button:has-text('Create anyway')")
    page.wait_for_selector(".toast:has-text('Contact Nora Lindqvist created.')")
    assert Contact.objects.count() == 2
