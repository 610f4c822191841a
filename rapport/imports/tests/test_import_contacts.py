"""Importing contacts through the job services: matching policies, dry run, idempotent
reruns, visibility, bad files, cancellation."""

import pytest

from rapport.accounts.models import Account, Contact, ContactEmail, ContactPhone
from rapport.accounts.services import contact_create
from rapport.imports.models import ImportJob
from rapport.imports.services import import_job_cancel, runner
from rapport.imports.tests.conftest import csv_bytes, xlsx_bytes
from rapport.records.custom_fields import custom_field_define
from rapport.timeline.models import EventKind, TimelineEvent

HEADER = ["First name", "Last name", "Email", "Phone", "Company", "City"]


def rows(*data) -> bytes:
    return csv_bytes([HEADER, *data])


ANN = ["Ann", "Lee", "ann@example.org", "+44 20 7946 0958", "Acme", "London"]
BOB = ["Bob", "Ray", "bob@example.org", "+1 415 555 0134", "Acme", "Boston"]


def test_contacts_are_created_with_emails_phones_account_and_a_timeline_event(
    personas, upload, run
):
    job = run(upload(personas.owner, rows(ANN, BOB)))
    assert (job.status, job.created, job.failed) == ("done", 2, 0)
    ann = Contact.objects.get(email="ann@example.org")
    assert (ann.first_name, ann.last_name, ann.city, ann.phone) == (
        "Ann",
        "Lee",
        "London",
        "+442079460958",
    )
    assert (ann.owner, ann.team, ann.version) == (personas.owner, personas.team_a, 1)
    assert list(ann.emails.values_list("email", "is_primary")) == [("ann@example.org", True)]
    assert list(ann.phones.values_list("number", "is_primary")) == [("+442079460958", True)]
    acme = Account.objects.get(name="Acme")
    assert ann.account == acme and acme.owner == personas.owner
    assert Contact.objects.filter(account=acme).count() == 2
    assert job.extra == {"accounts_created": 1}
    event = TimelineEvent.objects.get(contact=ann)
    assert (event.kind, event.actor, event.account_id, event.payload) == (
        EventKind.CREATED,
        personas.owner,
        acme.pk,
        {"import": job.pk},
    )
    assert TimelineEvent.objects.filter(account=acme, contact=None, kind="created").count() == 1


def test_an_existing_account_the_importer_sees_is_linked_not_duplicated(personas, upload, run):
    from rapport.accounts.services import account_create

    acme = account_create(actor=personas.owner, fields={"name": "Acme"})
    run(upload(personas.teammate, rows(ANN)))  # private org default: the teammate cannot see it
    run(upload(personas.owner, rows(BOB)))
    assert Contact.objects.get(last_name="Ray").account == acme
    assert Account.objects.filter(name="Acme").count() == 2


def test_a_dry_run_validates_every_row_and_writes_nothing(personas, upload, run):
    bad = ["Eve", "", "eve@", "12", "Acme", "Paris"]
    job = run(upload(personas.owner, rows(ANN, bad, BOB), dry_run=True))
    assert (job.status, job.dry_run, job.created, job.failed) == ("done", True, 2, 1)
    assert job.extra == {"accounts_created": 1}
    assert not Contact.all_objects.exists()
    assert not Account.all_objects.exists()
    assert not TimelineEvent.objects.exists()
    errors = {(e.row_number, e.column, e.code) for e in job.row_errors.all()}
    assert errors == {(3, "Email", "invalid_email"), (3, "Phone", "invalid_phone")}


def test_a_row_without_a_last_name_cannot_create_a_contact(personas, upload, run):
    job = run(upload(personas.owner, rows(["Eve", "", "eve@example.org", "", "", ""])))
    error = job.row_errors.get()
    assert (error.row_number, error.column, error.field, error.code) == (
        2,
        "Last name",
        "last_name",
        "required",
    )


def test_rerunning_the_same_file_creates_nothing_twice(personas, upload, run):
    data = rows(ANN, BOB)
    run(upload(personas.owner, data))
    events = TimelineEvent.objects.count()
    again = run(upload(personas.owner, data))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert Contact.objects.count() == 2
    assert Account.objects.count() == 1
    assert ContactEmail.objects.count() == ContactPhone.objects.count() == 2
    assert TimelineEvent.objects.count() == events
    assert set(Contact.objects.values_list("version", flat=True)) == {1}


def test_a_repeated_email_in_one_file_makes_one_contact(personas, upload, run):
    first = ["Ann", "Lee", "ann@example.org", "", "", ""]
    second = ["Ann", "Lee", "ANN@example.org", "", "", "Leeds"]
    job = run(upload(personas.owner, rows(first, second)))
    assert (job.created, job.updated) == (1, 1)
    assert Contact.objects.get().city == "Leeds"


@pytest.fixture
def ann(personas):
    return contact_create(
        actor=personas.owner,
        fields={"first_name": "Ann", "last_name": "Lee", "city": "London", "title": "CTO"},
        emails=[{"email": "ann@example.org"}],
        phones=[{"number": "+44 20 7946 0958"}],
    )


def test_update_policy_writes_only_changed_fields_with_version_and_timeline(
    personas, upload, run, ann
):
    data = csv_bytes([["Email", "City", "Title"], ["ann@example.org", "Leeds", ""]])
    job = run(upload(personas.owner, data))
    assert (job.updated, job.created) == (1, 0)
    ann.refresh_from_db()
    assert (ann.city, ann.title, ann.version) == ("Leeds", "CTO", 2)  # empty cells change nothing
    event = TimelineEvent.objects.get(contact=ann, kind=EventKind.UPDATED)
    assert event.payload["changes"] == {"city": {"old": "London", "new": "Leeds"}}
    assert event.payload["import"] == job.pk


def test_matching_falls_back_to_the_phone_in_e164_when_the_names_agree(personas, upload, run, ann):
    head = ["First name", "Last name", "Email", "Phone", "Country"]
    data = csv_bytes([head, ["Ann", "Lee", "new@example.org", "020 7946 0958", ""]])
    job = run(upload(personas.owner, data, policy="update"), dry_run=False)
    # No country: the default region (US) does not make this a UK number -> no match.
    assert job.created + job.failed == 1
    data = csv_bytes([head, ["Ann", "Lee", "new2@example.org", "020 7946 0958", "GB"]])
    job = run(upload(personas.owner, data))
    assert (job.updated, job.created) == (1, 0)
    ann.refresh_from_db()
    assert ann.email == "new2@example.org"
    assert list(ann.emails.order_by("-is_primary", "email").values_list("email", "is_primary")) == [
        ("new2@example.org", True),
        ("ann@example.org", False),
    ]


def test_skip_policy_leaves_matching_records_alone(personas, upload, run, ann):
    data = csv_bytes(
        [
            ["Email", "City", "Last name"],
            ["ann@example.org", "Leeds", "Lee"],
            ["zed@example.org", "Rome", "Zed"],
        ]
    )
    job = run(upload(personas.owner, data, policy="skip"))
    assert (job.skipped, job.created) == (1, 1)
    ann.refresh_from_db()
    assert (ann.city, ann.version) == ("London", 1)


def test_create_policy_always_creates(personas, upload, run, ann):
    data = csv_bytes([["Email", "Last name"], ["ann@example.org", "Lee"]])
    job = run(upload(personas.owner, data, policy="create"))
    assert job.created == 1
    assert ContactEmail.objects.filter(email="ann@example.org").count() == 2


def test_a_row_matching_a_record_the_importer_cannot_change_is_rejected(personas, upload, run, ann):
    data = csv_bytes([["Email", "City", "Last name"], ["ann@example.org", "Oslo", "Lee"]])
    job = run(upload(personas.outsider, data))
    assert (job.failed, job.created, job.updated) == (1, 0, 0)
    error = job.row_errors.get()
    assert (error.code, error.message) == ("not_editable", "Matches a record you cannot change")
    ann.refresh_from_db()
    assert ann.city == "London"
    # The teammate sees nothing either (private default); the manager may change it.
    assert run(upload(personas.teammate, data)).failed == 1
    assert run(upload(personas.manager, data)).updated == 1


def test_an_owner_column_gives_records_to_that_active_user(personas, upload, run):
    data = csv_bytes(
        [
            ["Last name", "Owner"],
            ["Lee", "teammate"],
            ["Ray", personas.outsider.email or "outsider"],
            ["Zed", "deactivated"],
            ["Kay", "nobody@example.org"],
        ]
    )
    job = run(upload(personas.owner, data))
    assert (job.created, job.failed) == (2, 2)
    assert Contact.objects.get(last_name="Lee").owner == personas.teammate
    ray = Contact.objects.get(last_name="Ray")
    assert (ray.owner, ray.team) == (personas.outsider, personas.team_b)
    assert {e.code for e in job.row_errors.all()} == {"invalid_owner"}


def test_tags_and_custom_fields_are_validated_and_stored(personas, upload, run):
    custom_field_define(object_type="contact", key="vip", label="VIP level", field_type="number")
    data = csv_bytes(
        [["Last name", "Tags", "VIP level"], ["Lee", "gold; partner", "3"], ["Ray", "", "lots"]]
    )
    job = run(upload(personas.owner, data))
    lee = Contact.objects.get(last_name="Lee")
    assert lee.custom == {"vip": 3}
    assert sorted(lee.tags.values_list("name", flat=True)) == ["gold", "partner"]
    assert job.row_errors.get().column == "VIP level"


def test_a_required_custom_field_is_needed_to_create(personas, upload, run):
    custom_field_define(
        object_type="contact",
        key="region_code",
        label="Region code",
        field_type="text",
        required=True,
    )
    job = run(upload(personas.owner, csv_bytes([["Last name"], ["Lee"]])))
    assert job.row_errors.get().field == "custom.region_code"


def test_formula_cells_are_stored_as_text(personas, upload, run):
    data = csv_bytes([["Last name", "Title"], ["=1+1", "+cmd|' /C calc'!A0"]])
    run(upload(personas.owner, data))
    contact = Contact.objects.get()
    assert (contact.last_name, contact.title) == ("=1+1", "+cmd|' /C calc'!A0")


def test_ragged_rows_are_rejected_and_the_rest_imported(personas, upload, run):
    data = b"Last name,City\nLee,London\nRay\nKay,Rome,extra\nZed,Oslo\n"
    job = run(upload(personas.owner, data))
    assert (job.status, job.created, job.failed) == ("done", 2, 2)
    assert list(job.row_errors.values_list("row_number", "code")) == [
        (3, "ragged_row"),
        (4, "ragged_row"),
    ]


def test_a_bad_byte_late_in_the_file_fails_the_job_before_anything_is_written(
    personas, upload, run
):
    good = csv_bytes([["Last name"]] + [[f"Name {i}"] for i in range(10000)])
    job = run(upload(personas.owner, good + b"Caf\xe9\n"))
    assert (job.status, job.error_code) == ("failed", "bad_encoding")
    assert "byte offset" in job.error and "line 10002" in job.error
    assert not Contact.all_objects.exists()


def test_a_cp1252_file_imports_with_its_encoding_chosen(personas, upload, run):
    data = csv_bytes([["Last name", "City"], ["Brûlé", "Orléans"]], encoding="cp1252")
    job = run(upload(personas.owner, data, encoding="cp1252"))
    assert job.created == 1
    assert Contact.objects.get().last_name == "Brûlé"


def test_xlsx_files_import_like_csv(personas, upload, run):
    data = xlsx_bytes(
        [
            ["Last name", "Email", "Phone", "Postal code"],
            ["Lee", "ann@example.org", 4155550134, 2134],
        ]
    )
    job = run(upload(personas.owner, data, name="contacts.xlsx"))
    assert (job.file_format, job.created) == ("xlsx", 1)
    contact = Contact.objects.get()
    assert (contact.phone, contact.postal_code) == ("+14155550134", "2134")


def test_a_header_without_rows_fails_clearly(personas, upload, run):
    job = run(upload(personas.owner, b"Last name,City\n"))
    assert (job.status, job.error_code) == ("failed", "no_rows")


def test_cancelling_a_queued_job_stops_it_before_any_row(personas, upload, run):
    job = upload(personas.owner, rows(ANN))
    import_job_cancel(job=job, actor=personas.owner)
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert not Contact.objects.exists()


def test_cancelling_a_running_job_keeps_the_written_batches_and_stops(
    personas, upload, run, monkeypatch
):
    monkeypatch.setattr(runner, "BATCH_SIZE", 2)
    data = csv_bytes([["Last name"]] + [[f"Name {i}"] for i in range(10)])
    job = upload(personas.owner, data)
    original = runner._cancel_requested
    calls = {"n": 0}

    def cancel_after_first_batch(job_):
        calls["n"] += 1
        if calls["n"] == 2:  # the first batch is written; the user cancels now
            ImportJob.objects.filter(pk=job_.pk).update(cancel_requested=True)
        return original(job_)

    monkeypatch.setattr(runner, "_cancel_requested", cancel_after_first_batch)
    job = run(job)
    assert job.status == "cancelled"
    assert (job.created, Contact.objects.count(), job.rows_done) == (2, 2, 2)


def test_a_cancelled_import_rerun_completes_without_duplicates(personas, upload, run, monkeypatch):
    monkeypatch.setattr(runner, "BATCH_SIZE", 3)
    data = csv_bytes([["Last name", "Email"]] + [[f"N{i}", f"n{i}@example.org"] for i in range(9)])
    job = upload(personas.owner, data)
    original = runner._cancel_requested
    seen = {"n": 0}

    def cancel_later(job_):
        seen["n"] += 1
        if seen["n"] == 3:
            ImportJob.objects.filter(pk=job_.pk).update(cancel_requested=True)
        return original(job_)

    monkeypatch.setattr(runner, "_cancel_requested", cancel_later)
    assert run(job).status == "cancelled"
    assert Contact.objects.count() == 6
    monkeypatch.setattr(runner, "_cancel_requested", original)
    again = run(job)  # the same job started again
    assert (again.status, again.created, again.unchanged) == ("done", 3, 6)
    assert Contact.objects.count() == 9


def test_a_job_of_a_user_who_became_read_only_fails_without_writing(personas, upload, run):
    job = upload(personas.owner, rows(ANN))
    personas.owner.role = "read_only"
    personas.owner.save(update_fields=["role"])
    job = run_as_is(job, run)
    assert (job.status, job.error_code) == ("failed", "read_only")
    assert not Contact.objects.exists()


def run_as_is(job, run):
    """Start the job bypassing the start-time rights check (the user changed since)."""
    from django.utils import timezone

    ImportJob.objects.filter(pk=job.pk).update(queued_at=timezone.now())
    job.refresh_from_db()
    return runner.import_run(job=job)


def test_old_finished_jobs_lose_their_files_but_keep_their_report(personas, upload, run):
    import datetime

    from django.utils import timezone

    from rapport.imports.tasks import import_files_purge_task

    done = run(upload(personas.owner, rows(["Ann", "", "bad", "", "", ""])))
    pending = upload(personas.owner, rows(ANN))
    ImportJob.objects.filter(pk=done.pk).update(
        finished_at=timezone.now() - datetime.timedelta(days=31)
    )
    result = import_files_purge_task.enqueue(30)
    assert result.return_value == 1
    done.refresh_from_db()
    pending.refresh_from_db()
    assert done.file_path == "" and done.row_errors.count() == 1
    assert __import__("pathlib").Path(pending.file_path).is_file()


def test_an_update_can_change_owner_and_tags_with_their_events(personas, upload, run, ann):
    data = csv_bytes([["Email", "Owner", "Tags"], ["ann@example.org", "teammate", "b, a"]])
    job = run(upload(personas.owner, data))
    assert job.updated == 1
    ann.refresh_from_db()
    assert (ann.owner, ann.team, ann.version) == (personas.teammate, personas.team_a, 2)
    assert sorted(ann.tags.values_list("name", flat=True)) == ["a", "b"]
    owner_event = TimelineEvent.objects.get(contact=ann, kind=EventKind.OWNER_CHANGED)
    assert owner_event.payload["owner"] == {"old": personas.owner.pk, "new": personas.teammate.pk}
    update = TimelineEvent.objects.get(contact=ann, kind=EventKind.UPDATED)
    assert update.payload["changes"]["tags"] == {"old": [], "new": ["a", "b"]}
    # The record is the teammate's now: the old owner may no longer change it.
    assert run(upload(personas.owner, data)).failed == 1
    assert run(upload(personas.manager, data)).unchanged == 1
