"""The import pages: upload (and its refusals), the mapping step, saved mappings, dry run,
run, progress, cancel, errors, rejected rows and the list of my imports."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from rapport.accounts.models import Contact
from rapport.imports.models import ImportJob, ImportRowError, SavedMapping
from rapport.imports.tests.conftest import csv_bytes, xlsx_bytes
from rapport.web.testing import HTMX, csv_rows, field_error, text_of, ui_client

PEOPLE = csv_bytes(
    [
        ["First name", "Surname", "E-mail", "Notes"],
        ["Ann", "Lee", "ann@example.org", "first"],
        ["Bob", "Stone", "bob@", "second"],
        ["Cy", "Park", "cy@example.org", "third"],
    ]
)


def post_upload(client, data=PEOPLE, name="people.csv", **form):
    """The upload, then the worker's reading of the file (the immediate task backend runs
    the task the upload enqueued on commit)."""
    form.setdefault("object_type", "contacts")
    form["file"] = SimpleUploadedFile(name, data, content_type="text/csv")
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/imports/new", form)


@pytest.fixture
def owner_client(personas):
    return ui_client(personas.owner)


@pytest.fixture
def uploaded(owner_client):
    """A pending contacts job of PEOPLE, uploaded through the page."""
    response = post_upload(owner_client)
    assert response.status_code == 302, text_of(response)
    return ImportJob.objects.get()


def mapping_post(job, action="save", policy="update", **overrides):
    data = {"action": action, "policy": policy}
    for index, header in enumerate(job.headers):
        data[f"col_{index}"] = job.mapping.get(header) or ""
    data.update(overrides)
    return data


# ----- upload -------------------------------------------------------------------------------


def test_upload_page_preselects_the_object_of_the_list_it_came_from(owner_client):
    page = text_of(owner_client.get("/imports/new?object_type=lead"))
    assert '<option value="leads" selected>Leads</option>' in page
    assert 'type="file" name="file"' in page and 'enctype="multipart/form-data"' in page


def test_upload_guesses_the_mapping_and_goes_to_the_mapping_step(owner_client, import_dir):
    response = post_upload(owner_client)
    job = ImportJob.objects.get()
    assert response["Location"] == f"/imports/{job.pk}/mapping"
    assert job.mapping == {
        "First name": "first_name",
        "Surname": "last_name",
        "E-mail": "email",
        "Notes": "description",
    }
    assert job.status == "pending" and job.queued_at is None
    assert [p.name for p in import_dir.iterdir()] == [job.file_path.rsplit("/", 1)[-1]]


def reading_error(client, response) -> str:
    """The mapping page the upload went to, once the worker could not read the file."""
    assert response.status_code == 302, text_of(response)
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "This file cannot be imported." in text_of(page)
    assert "Upload another file" in text_of(page)
    return text_of(page)


def test_upload_of_a_file_in_the_wrong_encoding_says_so_on_the_mapping_step(
    owner_client, import_dir
):
    data = "Last name\nMüller\n".encode("cp1252")
    response = post_upload(owner_client, data)
    assert "The file is not valid UTF-8: byte 0xFC" in reading_error(owner_client, response)
    assert ImportJob.objects.get().status == "failed" and list(import_dir.iterdir()) == []
    # The same file with its encoding chosen is read.
    response = post_upload(owner_client, data, encoding="cp1252")
    assert response.status_code == 302
    assert ImportJob.objects.latest("id").encoding == "cp1252"


def test_upload_of_something_that_is_not_a_table_is_refused(owner_client, import_dir):
    response = post_upload(owner_client, b"%PDF-1.4 binary", name="report.pdf")
    page = reading_error(owner_client, response)
    assert "This file is a PDF document, not a CSV or XLSX table" in page
    response = post_upload(owner_client, b"\xd0\xcf\x11\xe0old excel", name="old.xls")
    assert "This is an old Excel (.xls) file" in reading_error(owner_client, response)
    assert list(import_dir.iterdir()) == []


def test_upload_larger_than_the_limit_is_refused_and_not_kept(owner_client, settings, import_dir):
    settings.RAPPORT_IMPORT_MAX_BYTES = 40
    response = post_upload(owner_client, PEOPLE + b"x" * 100)
    assert response.status_code in (413, 422)
    assert field_error(response, "The file is larger than the import limit of 40 bytes")
    assert not ImportJob.objects.exists()
    assert not import_dir.exists() or list(import_dir.iterdir()) == []


def test_upload_without_a_file_asks_for_one(owner_client):
    response = owner_client.post("/imports/new", {"object_type": "contacts"})
    assert response.status_code == 422
    assert field_error(response, "choose a CSV or XLSX file")


def test_upload_of_products_needs_a_catalogue_manager(personas, owner_client, import_dir):
    response = post_upload(
        owner_client, csv_bytes([["SKU", "Name"], ["A-1", "Bolt"]]), **{"object_type": "products"}
    )
    assert response.status_code == 403
    assert 'class="field-error"' in text_of(response)
    assert list(import_dir.iterdir()) == []


def test_read_only_user_may_not_open_the_upload_page(personas):
    assert ui_client(personas.reader).get("/imports/new").status_code == 403


def test_xlsx_upload_is_read(owner_client):
    data = xlsx_bytes([["Last name", "Email"], ["Lee", "lee@example.org"]])
    response = post_upload(owner_client, data, name="people.xlsx")
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.file_format == "xlsx" and job.mapping == {"Last name": "last_name", "Email": "email"}


# ----- mapping ------------------------------------------------------------------------------


def test_mapping_step_shows_each_column_with_samples_and_its_guessed_field(owner_client, uploaded):
    page = text_of(owner_client.get(f"/imports/{uploaded.pk}/mapping"))
    assert "Surname" in page and '<span class="sample">Lee</span>' in page
    assert '<option value="last_name" selected>Last name *</option>' in page
    assert "Existing records are found by Email, then Phone" in page


def test_saving_an_edited_mapping_and_the_policy(owner_client, uploaded):
    data = mapping_post(uploaded, policy="skip", col_3="")  # Notes no longer imported
    response = owner_client.post(f"/imports/{uploaded.pk}/mapping", data)
    assert response.status_code == 302
    uploaded.refresh_from_db()
    assert uploaded.mapping["Notes"] is None and uploaded.policy == "skip"
    assert uploaded.queued_at is None


def test_a_mapping_the_service_refuses_shows_its_error(owner_client, uploaded):
    data = mapping_post(uploaded, col_0="", col_1="", col_2="", col_3="")
    response = owner_client.post(f"/imports/{uploaded.pk}/mapping", data)
    assert response.status_code == 422
    assert "No column is mapped to a field" in text_of(response)
    data = mapping_post(uploaded, col_0="email")  # email twice
    response = owner_client.post(f"/imports/{uploaded.pk}/mapping", data)
    assert response.status_code == 422
    assert "both map to email" in text_of(response)


def test_save_a_mapping_by_name_then_pick_it_for_another_file(personas, owner_client, uploaded):
    data = mapping_post(uploaded, col_3="", save_as="CRM export")
    owner_client.post(f"/imports/{uploaded.pk}/mapping", data)
    saved = SavedMapping.objects.get()
    assert (saved.name, saved.object_type, saved.created_by) == (
        "CRM export",
        "contacts",
        personas.owner,
    )
    assert saved.mapping["Notes"] is None
    # The same name again: an error next to the name field.
    response = owner_client.post(f"/imports/{uploaded.pk}/mapping", data)
    assert response.status_code == 409
    assert field_error(response, "You already have a mapping with this name")

    post_upload(owner_client, name="second.csv")
    second = ImportJob.objects.get(original_name="second.csv")
    assert second.mapping["Notes"] == "description"
    page = text_of(owner_client.get(f"/imports/{second.pk}/mapping"))
    assert f'<option value="{saved.pk}">CRM export</option>' in page
    owner_client.post(f"/imports/{second.pk}/mapping/apply", {"saved_mapping": saved.pk})
    second.refresh_from_db()
    assert second.mapping["Notes"] is None and second.mapping["Surname"] == "last_name"

    # At upload time too.
    post_upload(owner_client, name="third.csv", saved_mapping=saved.pk)
    assert ImportJob.objects.get(original_name="third.csv").mapping["Notes"] is None


def test_someone_elses_saved_mapping_cannot_be_applied(personas, owner_client, uploaded):
    theirs = SavedMapping.objects.create(
        name="Theirs", object_type="contacts", mapping={}, created_by=personas.teammate
    )
    response = owner_client.post(
        f"/imports/{uploaded.pk}/mapping/apply", {"saved_mapping": theirs.pk}
    )
    assert response.status_code == 302
    uploaded.refresh_from_db()
    assert uploaded.mapping["Notes"] == "description"


def test_ragged_rows_are_announced_on_the_mapping_step_and_rejected_by_the_dry_run(
    owner_client, django_capture_on_commit_callbacks
):
    data = b"Last name,Email\nLee,lee@example.org\nStone,stone@example.org,extra\n"
    post_upload(owner_client, data)
    job = ImportJob.objects.get()
    page = text_of(owner_client.get(f"/imports/{job.pk}/mapping"))
    assert "Row 3 has 3 cells but the header has 2 columns" in page
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"/imports/{job.pk}/mapping", mapping_post(job, action="dry_run"))
    job.refresh_from_db()
    assert (job.status, job.failed) == ("done", 1)
    assert ImportRowError.objects.get().code == "ragged_row"


def test_reading_a_csv_again_with_another_delimiter(owner_client):
    post_upload(owner_client, b"Last name;Email\nLee;lee@example.org\n")
    job = ImportJob.objects.get()
    job.delimiter = ","  # as if guessed wrong
    job.headers = ["Last name;Email"]
    job.mapping = {"Last name;Email": None}
    job.save()
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = owner_client.post(
            f"/imports/{job.pk}/reread", {"delimiter": ";", "encoding": ""}
        )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.headers == ["Last name", "Email"]
    assert job.mapping == {"Last name": "last_name", "Email": "email"}


# ----- dry run, run, progress, cancel -------------------------------------------------------


def test_dry_run_writes_nothing_and_shows_counts_errors_and_the_rejected_rows(
    owner_client, uploaded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            f"/imports/{uploaded.pk}/mapping", mapping_post(uploaded, action="dry_run")
        )
    assert response["Location"] == f"/imports/{uploaded.pk}/"
    assert not Contact.objects.exists()
    uploaded.refresh_from_db()
    assert (uploaded.status, uploaded.dry_run, uploaded.created, uploaded.failed) == (
        "done",
        True,
        2,
        1,
    )
    page = text_of(owner_client.get(response["Location"]))
    assert "nothing was written, and the counts are what the import will do" in page
    assert "Would create" in page
    assert "E-mail" in page and "bob@" in page  # the column and the bad value
    assert f"/imports/{uploaded.pk}/rejected.csv" in page
    assert "Run the import" in page

    rows = csv_rows(owner_client.get(f"/imports/{uploaded.pk}/rejected.csv"))
    assert rows[0] == ["First name", "Surname", "E-mail", "Notes", "row", "reason"]
    assert rows[1][:5] == ["Bob", "Stone", "bob@", "second", "3"]
    assert rows[1][5].startswith("E-mail: ")


def test_run_creates_the_records_and_shows_the_counts(
    owner_client, uploaded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(
            f"/imports/{uploaded.pk}/mapping", mapping_post(uploaded, action="dry_run")
        )
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/imports/{uploaded.pk}/start")
    assert response.status_code == 302
    assert sorted(Contact.objects.values_list("last_name", flat=True)) == ["Lee", "Park"]
    page = text_of(owner_client.get(f"/imports/{uploaded.pk}/"))
    assert '<span class="status status-success">Done</span>' in page
    assert '<dt>Created</dt><dd class="stat-value">2</dd>' in page
    assert '<dt>Failed</dt><dd class="stat-value">1</dd>' in page
    assert 'value="100"' in page and "3 of 3 rows (100%)" in page
    assert "Download rejected rows (CSV)" in page
    assert "every 1s" not in page  # finished: no more polling

    # Again with "skip": every good row matches by email now.
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(
            f"/imports/{uploaded.pk}/mapping", mapping_post(uploaded, action="run", policy="skip")
        )
    uploaded.refresh_from_db()
    assert (uploaded.created, uploaded.skipped, Contact.objects.count()) == (0, 2, 2)


def test_a_running_dry_run_says_its_counts_come_at_the_end(owner_client, uploaded):
    owner_client.post(f"/imports/{uploaded.pk}/start", {"dry_run": "1"})
    ImportJob.objects.filter(pk=uploaded.pk).update(status="running", rows_total=3)
    page = text_of(owner_client.get(f"/imports/{uploaded.pk}/"))
    assert "Checking 3 rows: a dry run shows its counts when it ends" in page
    assert "0 of 3 rows" not in page


def test_progress_is_polled_while_running_and_stops_when_finished(owner_client, uploaded):
    owner_client.post(f"/imports/{uploaded.pk}/start")  # queued; the task is not run here
    ImportJob.objects.filter(pk=uploaded.pk).update(status="running", rows_total=3, rows_done=1)
    page = text_of(owner_client.get(f"/imports/{uploaded.pk}/"))
    assert f'hx-get="/imports/{uploaded.pk}/progress" hx-trigger="every 1s"' in page
    assert 'value="33"' in page and "1 of 3 rows (33%)" in page
    assert f'href="/imports/{uploaded.pk}/"' in page  # the refresh link without JS
    assert "Cancel" in page

    fragment = text_of(owner_client.get(f"/imports/{uploaded.pk}/progress", headers=HTMX))
    assert fragment.startswith('<section id="import-status"') and "hx-trigger" in fragment
    ImportJob.objects.filter(pk=uploaded.pk).update(status="done", rows_done=3, created=3)
    fragment = text_of(owner_client.get(f"/imports/{uploaded.pk}/progress", headers=HTMX))
    assert "hx-trigger" not in fragment and "3 of 3 rows (100%)" in fragment
    # Without htmx the progress URL is the page itself.
    assert owner_client.get(f"/imports/{uploaded.pk}/progress")["Location"] == (
        f"/imports/{uploaded.pk}/"
    )


def test_cancel_stops_a_queued_import(owner_client, uploaded):
    owner_client.post(f"/imports/{uploaded.pk}/start")  # queued, no worker ran it
    uploaded.refresh_from_db()
    assert uploaded.status == "pending" and uploaded.queued_at is not None
    response = owner_client.post(f"/imports/{uploaded.pk}/cancel", headers=HTMX)
    assert response.status_code == 200
    assert '<span class="status status-warning">Cancelled</span>' in text_of(response)
    uploaded.refresh_from_db()
    assert uploaded.status == "cancelled" and not Contact.objects.exists()
    # Cancelling again is refused with a message, not an error page.
    response = owner_client.post(f"/imports/{uploaded.pk}/cancel", follow=True)
    assert "The import is already cancelled" in text_of(response)


def test_a_running_import_cannot_be_remapped(owner_client, uploaded):
    owner_client.post(f"/imports/{uploaded.pk}/start")
    response = owner_client.post(f"/imports/{uploaded.pk}/mapping", mapping_post(uploaded))
    assert response.status_code == 409
    assert "The import is queued or running; cancel it first" in text_of(response)


def test_all_errors_page_is_paged(owner_client, django_capture_on_commit_callbacks):
    rows = [["Last name", "Email"]] + [[f"P{i}", f"bad{i}@"] for i in range(130)]
    post_upload(owner_client, csv_bytes(rows))
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"/imports/{job.pk}/start", {"dry_run": "1"})
    page = text_of(owner_client.get(f"/imports/{job.pk}/"))
    assert page.count('<td class="num">') == 20 and "All row errors" in page
    first = owner_client.get(f"/imports/{job.pk}/errors")
    assert first.context["page"].count == 130 and len(first.context["page"].items) == 100
    second = owner_client.get(
        f"/imports/{job.pk}/errors?cursor={first.context['page'].next_cursor}"
    )
    assert [e.row_number for e in second.context["page"].items][0] == 102
    assert len(second.context["page"].items) == 30


# ----- who sees what ------------------------------------------------------------------------


def test_another_user_cannot_see_or_touch_my_import(personas, uploaded):
    other = ui_client(personas.teammate)
    for url in ("/", "/mapping", "/progress", "/errors", "/rejected.csv"):
        assert other.get(f"/imports/{uploaded.pk}{url}").status_code == 404, url
    for url in ("/start", "/cancel", "/mapping", "/reread"):
        assert other.post(f"/imports/{uploaded.pk}{url}").status_code == 404, url
    assert "people.csv" not in text_of(other.get("/imports/"))
    assert ui_client(personas.admin).get(f"/imports/{uploaded.pk}/").status_code == 200


def test_my_imports_list_shows_my_jobs_with_their_status(
    personas, owner_client, uploaded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"/imports/{uploaded.pk}/start", {"dry_run": "1"})
    post_upload(ui_client(personas.teammate), name="theirs.csv")
    page = text_of(owner_client.get("/imports/"))
    assert "people.csv" in page and "theirs.csv" not in page
    assert '<span class="status status-success">Done</span>' in page and "Dry run" in page
    assert 'href="/imports/new"' in page


def test_the_sidebar_links_to_imports(owner_client):
    assert 'href="/imports/"' in text_of(owner_client.get("/imports/"))


def test_upload_announced_larger_than_the_limit_is_refused_unread(
    owner_client, settings, import_dir
):
    settings.RAPPORT_IMPORT_MAX_BYTES = 40
    response = post_upload(owner_client, b"Last name\n" + b"x" * 100_000)
    assert response.status_code == 413
    assert field_error(response, "The file is larger than the import limit of 40 bytes")
    assert not import_dir.exists() or list(import_dir.iterdir()) == []


def test_imports_list_has_no_n_plus_one(personas, upload):
    from rapport.web.testing import count_queries

    admin = ui_client(personas.admin)
    for user in (personas.owner, personas.teammate):
        upload(user, PEOPLE)
    few = count_queries(lambda: admin.get("/imports/"))
    for _ in range(5):
        upload(personas.outsider, PEOPLE)
    assert count_queries(lambda: admin.get("/imports/")) == few


def test_upload_still_checks_the_csrf_token(personas, import_dir):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.owner)
    response = post_upload(client)
    assert response.status_code == 403
    # With a cookie but a wrong token the body (and the file) is read, then refused.
    client.cookies["csrftoken"] = "x" * 32
    response = post_upload(client, csrfmiddlewaretoken="y" * 32)
    assert response.status_code == 403
    assert not ImportJob.objects.exists()
    assert not import_dir.exists() or list(import_dir.iterdir()) == []
