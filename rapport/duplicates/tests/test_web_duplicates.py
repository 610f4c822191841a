"""The duplicates pages: the review queue, the side-by-side comparison with merge and
dismiss, the merge history with undo, and the scan button."""

import datetime
import re

import pytest

from rapport.accounts.models import Contact
from rapport.activities.models import Activity
from rapport.activities.services import activity_log
from rapport.duplicates.models import CandidateStatus, DuplicateCandidate, DuplicateRun, MergeLog
from rapport.web.testing import HTMX, count_queries, text_of, ui_client

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2025, 3, 1, 10, 0, tzinfo=datetime.UTC)


def candidate(a, b, score=90, object_type="contact") -> DuplicateCandidate:
    low, high = sorted((a.pk, b.pk))
    return DuplicateCandidate.objects.create(
        object_type=object_type,
        record_a_id=low,
        record_b_id=high,
        score=score,
        reasons=["same email"],
        found_at=NOW,
        scored_at=NOW,
    )


def log_call(actor, contact) -> Activity:
    activity, _ = activity_log(
        actor=actor, kind="call", fields={"subject": "Intro call"}, links={"contact_id": contact.pk}
    )
    return activity


@pytest.fixture
def twins(make_contact):
    """The owner's two Jane Does (private to the owner, their manager and admins)."""
    a = make_contact(first_name="Jane", last_name="Doe", email="jane@acme.io", title="CTO")
    b = make_contact(
        first_name="Janet", last_name="Doe", email="jane.doe@acme.io", city="Paris", title="VP"
    )
    return a, b, candidate(a, b)


def test_queue_lists_the_pairs_the_user_sees(personas, twins, make_account):
    a, b, pair = twins
    acme = make_account(name="Acme", website="https://acme.io")
    acme2 = make_account(name="ACME Inc", website="https://www.acme.io")
    candidate(acme, acme2, score=70, object_type="account")
    page = text_of(ui_client(personas.owner).get("/duplicates/"))
    assert "Jane Doe" in page and "Janet Doe" in page and "ACME Inc" in page
    assert f"/duplicates/{pair.pk}/" in page and "same email" in page
    # Filters by type and score.
    page = text_of(ui_client(personas.owner).get("/duplicates/?type=account"))
    assert "ACME Inc" in page and "Jane Doe" not in page
    page = text_of(ui_client(personas.owner).get("/duplicates/?min_score=80"))
    assert "Jane Doe" in page and "ACME Inc" not in page


def test_queue_hides_pairs_of_records_the_user_cannot_see(personas, twins, make_contact):
    other = make_contact(owner=personas.outsider, first_name="Jane", last_name="Doe")
    a, _, _ = twins
    candidate(a, other, score=95)
    outsider_page = text_of(ui_client(personas.outsider).get("/duplicates/"))
    assert "Jane Doe" not in outsider_page and "No possible duplicates" in outsider_page
    owner_page = text_of(ui_client(personas.owner).get("/duplicates/"))
    assert owner_page.count('id="pair-') == 1  # the pair with the outsider's record is hidden


def test_queue_costs_a_fixed_number_of_queries(personas, make_contact):
    client = ui_client(personas.owner)

    def make_pairs(n):
        for i in range(n):
            a = make_contact(first_name="Al", last_name=f"Smith{i}", email=f"al{i}@x.io")
            b = make_contact(first_name="Al", last_name=f"Smith{i}", email=f"al{i}@x.io")
            candidate(a, b)

    make_pairs(2)
    few = count_queries(lambda: client.get("/duplicates/"))
    make_pairs(8)
    many = count_queries(lambda: client.get("/duplicates/"))
    assert few == many


def test_another_teams_user_gets_404_for_a_pair(personas, twins):
    _, _, pair = twins
    client = ui_client(personas.outsider)
    assert client.get(f"/duplicates/{pair.pk}/").status_code == 404
    assert client.post(f"/duplicates/{pair.pk}/merge", {}).status_code == 404
    assert client.post(f"/duplicates/{pair.pk}/dismiss").status_code == 404
    assert DuplicateCandidate.objects.get(pk=pair.pk).status == CandidateStatus.OPEN


def test_compare_page_shows_both_values_and_related_counts(personas, twins):
    a, b, pair = twins
    log_call(personas.owner, b)
    r = ui_client(personas.owner).get(f"/duplicates/{pair.pk}/")
    assert r.status_code == 200
    page = text_of(r)
    assert "CTO" in page and "VP" in page and "Paris" in page
    # Defaults: the survivor's (A's) title, B's city (A has none).
    assert 'name="pick_title" value="a" checked' in page
    assert 'name="pick_city" value="b" checked' in page
    assert 'name="survivor" value="a" checked' in page
    assert "Activities" in page and "Merge" in page and "Not a duplicate" in page


def test_merge_keeps_the_chosen_values_and_moves_related_records(personas, twins):
    a, b, pair = twins
    call = log_call(personas.owner, b)
    client = ui_client(personas.owner)
    r = client.post(
        f"/duplicates/{pair.pk}/merge",
        {
            "survivor": "a",
            "version_a": a.version,
            "version_b": b.version,
            "pick_first_name": "b",  # Janet
            "pick_title": "a",  # CTO
            "pick_city": "b",  # Paris
            "pick_email": "a",
        },
    )
    assert r.status_code == 302, text_of(r)
    assert r["Location"] == "/duplicates/?type=contact"
    a.refresh_from_db()
    assert (a.first_name, a.title, a.city, a.email) == ("Janet", "CTO", "Paris", "jane@acme.io")
    assert Contact.all_objects.get(pk=b.pk).deleted_at is not None
    assert Activity.objects.get(pk=call.pk).contact_id == a.pk
    assert DuplicateCandidate.objects.get(pk=pair.pk).status == CandidateStatus.MERGED
    log = MergeLog.objects.get()
    queue = text_of(client.get(r["Location"]))
    assert "Merged Janet Doe into Jane Doe." in queue
    assert f"/duplicates/merges/{log.pk}/undo" in queue  # the toast's Undo


def test_merge_can_keep_record_b(personas, twins):
    a, b, pair = twins
    r = ui_client(personas.owner).post(
        f"/duplicates/{pair.pk}/merge",
        {"survivor": "b", "version_a": a.version, "version_b": b.version, "pick_title": "a"},
    )
    assert r.status_code == 302
    b.refresh_from_db()
    assert b.title == "CTO" and b.deleted_at is None
    assert Contact.all_objects.get(pk=a.pk).deleted_at is not None


def test_merge_refuses_when_a_record_changed_since_the_page_was_shown(personas, twins):
    from rapport.accounts.services import contact_update

    a, b, pair = twins
    shown = b.version
    contact_update(contact=b, actor=personas.owner, fields={"title": "COO"})
    r = ui_client(personas.owner).post(
        f"/duplicates/{pair.pk}/merge",
        {"survivor": "a", "version_a": a.version, "version_b": shown},
    )
    assert r.status_code == 409
    assert "changed since you opened this page" in text_of(r)
    assert Contact.objects.filter(pk=b.pk).exists() and not MergeLog.objects.exists()


def test_merge_needs_a_survivor(personas, twins):
    a, b, pair = twins
    r = ui_client(personas.owner).post(
        f"/duplicates/{pair.pk}/merge", {"version_a": a.version, "version_b": b.version}
    )
    assert r.status_code == 422 and not MergeLog.objects.exists()


def test_a_reader_sees_the_pair_but_cannot_merge(personas, twins):
    from rapport.records.models import OrgDefault

    OrgDefault.objects.create(object_type="contact", access="public_read")
    a, b, pair = twins
    client = ui_client(personas.teammate)
    page = text_of(client.get(f"/duplicates/{pair.pk}/"))
    assert "cannot merge" in page and 'name="survivor"' not in page
    r = client.post(
        f"/duplicates/{pair.pk}/merge",
        {"survivor": "a", "version_a": a.version, "version_b": b.version},
    )
    assert r.status_code == 403 and not MergeLog.objects.exists()


def test_undo_restores_both_records_and_the_related_rows(personas, twins):
    a, b, pair = twins
    call = log_call(personas.owner, b)
    client = ui_client(personas.owner)
    client.post(
        f"/duplicates/{pair.pk}/merge",
        {"survivor": "a", "version_a": a.version, "version_b": b.version, "pick_title": "b"},
    )
    log = MergeLog.objects.get()
    history = text_of(client.get("/duplicates/merges/"))
    assert "Janet Doe" in history and f"/duplicates/merges/{log.pk}/undo" in history
    r = client.post(f"/duplicates/merges/{log.pk}/undo")
    assert r.status_code == 302 and r["Location"] == f"/duplicates/{pair.pk}/"
    a.refresh_from_db()
    assert a.title == "CTO"
    assert Contact.objects.get(pk=b.pk).deleted_at is None
    assert Activity.objects.get(pk=call.pk).contact_id == b.pk
    assert DuplicateCandidate.objects.get(pk=pair.pk).status == CandidateStatus.OPEN
    history = text_of(client.get("/duplicates/merges/"))
    assert "Undone" in history and f"/duplicates/merges/{log.pk}/undo" not in history
    # Undo twice: an error message, nothing changes.
    r = client.post(f"/duplicates/merges/{log.pk}/undo", follow=True)
    assert "already undone" in text_of(r)


def test_merge_history_is_only_for_those_who_see_the_survivor(personas, twins):
    a, b, pair = twins
    ui_client(personas.owner).post(
        f"/duplicates/{pair.pk}/merge",
        {"survivor": "a", "version_a": a.version, "version_b": b.version},
    )
    log = MergeLog.objects.get()
    outsider = ui_client(personas.outsider)
    assert "Jane" not in text_of(outsider.get("/duplicates/merges/"))
    assert outsider.post(f"/duplicates/merges/{log.pk}/undo").status_code == 404
    assert MergeLog.objects.get().undone_at is None


def test_dismiss_takes_the_pair_out_of_the_queue(personas, twins):
    _, _, pair = twins
    client = ui_client(personas.owner)
    r = client.post(f"/duplicates/{pair.pk}/dismiss")
    assert r.status_code == 302
    assert DuplicateCandidate.objects.get(pk=pair.pk).status == CandidateStatus.DISMISSED
    page = text_of(client.get("/duplicates/"))
    assert 'id="pair-' not in page and "Marked as not duplicates" in page
    assert f'id="pair-{pair.pk}"' in text_of(client.get("/duplicates/?status=dismissed"))
    # The toast's undo puts it back.
    client.post(f"/duplicates/{pair.pk}/reopen")
    assert DuplicateCandidate.objects.get(pk=pair.pk).status == CandidateStatus.OPEN


def test_dismiss_with_htmx_removes_the_row_in_place(personas, twins):
    _, _, pair = twins
    r = ui_client(personas.owner).post(f"/duplicates/{pair.pk}/dismiss", headers=HTMX)
    assert r.status_code == 200
    body = text_of(r)
    assert "pair-" not in body and "Marked as not duplicates" in body  # the toast, out of band


def test_scan_now_is_for_administrators(personas, make_contact, django_capture_on_commit_callbacks):
    make_contact(first_name="Jane", last_name="Doe", email="jane@acme.io")
    make_contact(first_name="Jane", last_name="Doe", email="jane@acme.io")
    assert "Scan now" not in text_of(ui_client(personas.owner).get("/duplicates/"))
    assert ui_client(personas.manager).post("/duplicates/scan", {"type": "all"}).status_code == 403
    admin = ui_client(personas.admin)
    admin_page = text_of(admin.get("/duplicates/"))
    assert "Scan now" in admin_page and 'for="scan_type"' in admin_page
    with django_capture_on_commit_callbacks(execute=True):
        r = admin.post("/duplicates/scan", {"type": "contact"})
    assert r.status_code == 302
    assert DuplicateRun.objects.get().status == "done"
    page = text_of(ui_client(personas.owner).get("/duplicates/"))
    assert page.count('id="pair-') == 1


def test_sidebar_links_to_the_queue(personas):
    assert 'href="/duplicates/"' in text_of(ui_client(personas.owner).get("/"))


def test_accounts_compare_with_names_and_merge_moves_contacts(personas, make_account, make_contact):
    parent = make_account(name="Acme Holding")
    a = make_account(name="Acme", website="https://acme.io", parent=parent)
    b = make_account(name="ACME Inc", website="https://www.acme.io", industry="Software")
    jane = make_contact(first_name="Jane", last_name="Doe", account=b)
    pair = candidate(a, b, object_type="account")
    client = ui_client(personas.owner)
    page = text_of(client.get(f"/duplicates/{pair.pk}/"))
    assert "Acme Holding" in page  # the parent by name, not by id
    assert "Olga Owner" in page and "Contacts" in page
    assert 'name="pick_industry" value="b" checked' in page
    r = client.post(
        f"/duplicates/{pair.pk}/merge",
        {"survivor": "a", "version_a": a.version, "version_b": b.version, "pick_name": "b"},
    )
    assert r.status_code == 302, text_of(r)
    a.refresh_from_db()
    jane.refresh_from_db()
    assert (a.name, a.industry, a.parent_id) == ("ACME Inc", "Software", parent.pk)
    assert jane.account_id == a.pk


def test_a_converted_lead_must_survive(personas, make_lead):
    from rapport.leads.models import Lead

    a = make_lead(first_name="Jane", last_name="Doe", email="jane@acme.io", title="CTO")
    b = make_lead(first_name="Jane", last_name="Doe", email="jane@acme.io")
    Lead.objects.filter(pk=b.pk).update(status="converted")
    b.refresh_from_db()
    pair = candidate(a, b, object_type="lead")
    client = ui_client(personas.owner)
    page = text_of(client.get(f"/duplicates/{pair.pk}/"))
    assert 'name="pick_title" value="b" checked' in page  # it keeps its blank title too
    assert 'name="survivor" value="b" checked' in page  # the converted lead is proposed
    assert "can only be the record you keep" in page
    r = client.post(
        f"/duplicates/{pair.pk}/merge",
        {"survivor": "a", "version_a": a.version, "version_b": b.version},
    )
    assert r.status_code == 409 and "keep the converted lead" in text_of(r)
    r = client.post(
        f"/duplicates/{pair.pk}/merge",
        {"survivor": "b", "version_a": a.version, "version_b": b.version, "pick_title": "b"},
    )
    assert r.status_code == 302
    assert Lead.all_objects.get(pk=a.pk).deleted_at is not None


@pytest.mark.parametrize("path", ["/accounts/", "/contacts/", "/leads/"])
def test_lists_link_to_their_duplicates(personas, path):
    page = text_of(ui_client(personas.owner).get(path))
    assert "Find duplicates" in page and "/duplicates/?type=" in page


def test_other_lists_have_no_duplicates_link(personas):
    assert "Find duplicates" not in text_of(ui_client(personas.owner).get("/opportunities/"))


def test_queue_pages_with_a_cursor(personas, make_contact, monkeypatch):
    from rapport.duplicates import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for i, score in enumerate((95, 90, 85)):
        a = make_contact(first_name="Al", last_name=f"Smith{i}", email=f"al{i}@x.io")
        b = make_contact(first_name="Al", last_name=f"Smith{i}", email=f"al{i}@x.io")
        candidate(a, b, score=score)
    client = ui_client(personas.owner)
    first = text_of(client.get("/duplicates/"))
    assert "Smith0" in first and "Smith1" in first and "Smith2" not in first
    next_url = re.search(r'href="(\?[^"]*cursor=[^"]+)"', first).group(1).replace("&amp;", "&")
    second = text_of(client.get(f"/duplicates/{next_url}"))
    assert "Smith2" in second and "Smith0" not in second
    assert client.get("/duplicates/?cursor=nonsense").status_code == 400


def test_merge_history_costs_a_fixed_number_of_queries(personas, make_contact):
    from rapport.duplicates.services import record_merge

    client = ui_client(personas.owner)

    def merge_pairs(n):
        for i in range(n):
            a = make_contact(first_name="Al", last_name=f"Smith{i}", email=f"al{i}@x.io")
            b = make_contact(first_name="Al", last_name=f"Smith{i}", email=f"al{i}@x.io")
            record_merge(
                object_type="contact", survivor=a, merged=b, field_choices={}, actor=personas.owner
            )

    merge_pairs(1)
    few = count_queries(lambda: client.get("/duplicates/merges/"))
    merge_pairs(4)
    many = count_queries(lambda: client.get("/duplicates/merges/"))
    assert few == many
