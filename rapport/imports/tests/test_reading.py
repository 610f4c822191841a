"""Uploads are parsed by the task worker, never in the web request: the upload answers at
once with the job `reading`; the worker reads the header and first rows and the job becomes
pending (mapping ready) or failed with the problem named. Through the API and the pages."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from rapport.imports.models import ImportJob
from rapport.imports.services import files, jobs
from rapport.imports.tests.conftest import csv_bytes, xlsx_bytes
from rapport.imports.tests.test_xlsx_limits import _bomb
from rapport.web.testing import HTMX, text_of, ui_client


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _bomb()


def _tripwire(*args, **kwargs):
    raise AssertionError("an upload was parsed in the web request")


@pytest.fixture
def no_parsing(monkeypatch):
    """Every way of parsing an upload fails the test while set; `.off()` lifts it (the
    worker's turn)."""
    monkeypatch.setattr(files, "sniff", _tripwire)
    monkeypatch.setattr(jobs, "sniff", _tripwire)
    monkeypatch.setattr(files, "xlsx_check", _tripwire)
    monkeypatch.setattr(files.XlsxReader, "rows", _tripwire)
    monkeypatch.setattr(files.CsvReader, "rows", _tripwire)

    class Switch:
        @staticmethod
        def off():
            monkeypatch.undo()

    return Switch


def _post_api(client, data: bytes, name: str, **form):
    return client.client.post(
        "/api/imports",
        {"object_type": "contacts", **form, "file": SimpleUploadedFile(name, data)},
        headers=client.headers,
    )


def test_a_zip_bomb_upload_answers_at_once_and_the_worker_fails_it(
    personas, api_as, import_dir, bomb, no_parsing, django_capture_on_commit_callbacks
):
    client = api_as(personas.owner)
    client.get("/api/imports")  # the first request of the process imports the URLconf
    with django_capture_on_commit_callbacks() as worker_tasks:
        started = time.perf_counter()
        response = _post_api(client, bomb, "bomb.xlsx")
        elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.content
    assert elapsed < 1.0
    body = response.json()
    assert (body["status"], body["headers"], body["preview"]) == ("reading", [], [])
    assert client.get(f"/api/imports/{body['id']}").data["status"] == "reading"

    no_parsing.off()
    for task in worker_tasks:  # the worker's turn (the immediate backend runs it here)
        task()
    job = client.get(f"/api/imports/{body['id']}").data
    assert (job["status"], job["error_code"]) == ("failed", "xlsx_bomb")
    assert "zip bomb" in job["error"] and "sheet1.xml" in job["error"]
    assert not list(import_dir.iterdir())  # the refused file is not kept
    # A failed reading cannot be mapped or started.
    started = client.post(f"/api/imports/{body['id']}/start", {})
    assert started.status_code == 409


def test_a_zip_bomb_upload_through_the_page_waits_then_shows_the_error(
    personas, import_dir, bomb, no_parsing, django_capture_on_commit_callbacks
):
    client = ui_client(personas.owner)
    with django_capture_on_commit_callbacks() as worker_tasks:
        started = time.perf_counter()
        response = client.post(
            "/imports/new",
            {"object_type": "contacts", "file": SimpleUploadedFile("bomb.xlsx", bomb)},
        )
        elapsed = time.perf_counter() - started
    assert response.status_code == 302 and elapsed < 1.0
    job = ImportJob.objects.get()
    assert response["Location"] == f"/imports/{job.pk}/mapping"
    page = text_of(client.get(response["Location"]))
    assert "Reading the file’s columns and first rows" in page
    assert f'hx-get="/imports/{job.pk}/reading"' in page and "<script>" not in page
    poll = client.get(f"/imports/{job.pk}/reading", headers=HTMX)
    assert poll.status_code == 200 and 'hx-trigger="every 1s"' in text_of(poll)

    no_parsing.off()
    for task in worker_tasks:
        task()
    poll = client.get(f"/imports/{job.pk}/reading", headers=HTMX)
    assert poll["HX-Redirect"] == f"/imports/{job.pk}/mapping"
    page = text_of(client.get(f"/imports/{job.pk}/mapping"))
    assert "This file cannot be imported." in page and "zip bomb" in page
    assert "hx-get" not in page.split("import-reading", 1)[1].split("</section>", 1)[0]
    assert "Upload another file" in page


def test_a_workbook_goes_reading_then_pending_through_the_api(
    personas, api_as, no_parsing, django_capture_on_commit_callbacks
):
    client = api_as(personas.owner)
    data = xlsx_bytes([["Email", "Last name"], ["a@x.org", "Ames"], ["b@x.org", "Berg"]])
    with django_capture_on_commit_callbacks() as worker_tasks:
        response = _post_api(client, data, "people.xlsx")
    assert (response.status_code, response.json()["status"]) == (201, "reading")
    job_id = response.json()["id"]
    # While reading, the job cannot be changed or started yet.
    assert client.patch(f"/api/imports/{job_id}", {"policy": "skip"}).status_code == 409
    no_parsing.off()
    for task in worker_tasks:
        task()
    job = client.get(f"/api/imports/{job_id}").data
    assert (job["status"], job["file_format"], job["headers"]) == (
        "pending",
        "xlsx",
        ["Email", "Last name"],
    )
    assert job["preview"] == [["a@x.org", "Ames"], ["b@x.org", "Berg"]]
    assert job["mapping"] == {"Email": "email", "Last name": "last_name"}


def test_upload_with_start_imports_once_the_file_is_read(
    personas, api_as, django_capture_on_commit_callbacks
):
    from rapport.accounts.models import Contact

    client = api_as(personas.owner)
    data = csv_bytes([["Email", "Last name"], ["a@x.org", "Ames"]])
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_api(client, data, "people.csv", start="true")
    assert response.json()["status"] == "reading"
    job = client.get(f"/api/imports/{response.json()['id']}").data
    assert (job["status"], job["counts"]["created"]) == ("done", 1)
    assert Contact.objects.get().last_name == "Ames"


def test_a_csv_goes_reading_then_to_the_mapping_page(
    personas, no_parsing, django_capture_on_commit_callbacks
):
    client = ui_client(personas.owner)
    data = csv_bytes([["Email", "Surname"], ["a@x.org", "Ames"]])
    with django_capture_on_commit_callbacks() as worker_tasks:
        response = client.post(
            "/imports/new",
            {"object_type": "contacts", "file": SimpleUploadedFile("people.csv", data)},
        )
    job = ImportJob.objects.get()
    assert "Reading the file’s columns" in text_of(client.get(response["Location"]))
    # A form posted while reading changes nothing.
    posted = client.post(f"/imports/{job.pk}/mapping", {"action": "run", "policy": "update"})
    assert posted.status_code == 302
    assert ImportJob.objects.get().queued_at is None
    no_parsing.off()
    for task in worker_tasks:
        task()
    assert client.get(f"/imports/{job.pk}/reading", headers=HTMX)["HX-Redirect"] == (
        f"/imports/{job.pk}/mapping"
    )
    page = text_of(client.get(f"/imports/{job.pk}/mapping"))
    assert "Reading the file" not in page
    assert 'class="sample">a@x.org</span>' in page and 'class="sample">Ames</span>' in page


def test_the_mapping_page_never_opens_the_file(personas, no_parsing, tmp_path, bomb):
    # The samples come from what the worker stored: a page does not read the upload.
    path = tmp_path / "padded.xlsx"
    path.write_bytes(bomb)
    job = ImportJob.objects.create(
        object_type="contacts",
        file_path=str(path),
        original_name="padded.xlsx",
        file_format="xlsx",
        headers=["Email"],
        preview=[["a@x.org"]],
        mapping={"Email": "email"},
        created_by=personas.owner,
    )
    started = time.perf_counter()
    page = text_of(ui_client(personas.owner).get(f"/imports/{job.pk}/mapping"))
    assert time.perf_counter() - started < 1.0
    assert 'class="sample">a@x.org</span>' in page


def test_a_new_delimiter_is_read_by_the_worker_too(
    personas, api_as, upload, no_parsing, django_capture_on_commit_callbacks
):
    no_parsing.off()
    job = upload(personas.owner, b"Last name;Email\nLee;lee@example.org\n")
    client = api_as(personas.owner)
    no_parsing_again = pytest.MonkeyPatch()
    no_parsing_again.setattr(jobs, "sniff", _tripwire)
    no_parsing_again.setattr(files.CsvReader, "rows", _tripwire)
    try:
        with django_capture_on_commit_callbacks() as worker_tasks:
            response = client.patch(f"/api/imports/{job.pk}", {"delimiter": ","})
    finally:
        no_parsing_again.undo()
    assert (response.status_code, response.data["status"]) == (200, "reading")
    for task in worker_tasks:
        task()
    job.refresh_from_db()
    assert (job.status, job.delimiter, job.headers) == ("pending", ",", ["Last name;Email"])


def test_a_job_the_worker_has_not_read_can_be_cancelled_or_deleted(personas, api_as):
    from rapport.imports import services

    path = files.new_upload_path("x.csv")
    path.write_bytes(b"Email\na@x.org\n")
    job = services.import_job_create(
        actor=personas.owner, object_type="contacts", path=path, original_name="x.csv", read=False
    )
    client = api_as(personas.owner)
    assert client.post(f"/api/imports/{job.pk}/cancel", {}).data["status"] == "cancelled"
    assert services.import_job_read(job=job).status == "cancelled"  # nothing left to read
    assert client.delete(f"/api/imports/{job.pk}").status_code == 204


def test_reading_again_after_a_dry_run_leaves_a_job_that_can_start(
    personas, api_as, upload, run, django_capture_on_commit_callbacks
):
    job = run(upload(personas.owner, b"Last name;Email\nLee;lee@example.org\n"), dry_run=True)
    assert job.status == "done"
    client = api_as(personas.owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.patch(f"/api/imports/{job.pk}", {"delimiter": ","})
    job.refresh_from_db()
    assert (job.status, job.queued_at) == ("pending", None)
    with django_capture_on_commit_callbacks(execute=True):
        client.patch(f"/api/imports/{job.pk}", {"delimiter": ";"})
    assert client.post(f"/api/imports/{job.pk}/start", {"dry_run": False}).status_code == 200


def test_an_unexpected_error_while_reading_fails_the_job_instead_of_leaving_it_reading(
    personas, monkeypatch
):
    from rapport.imports import services

    def broken(*args, **kwargs):
        raise RuntimeError("parser crashed")

    path = files.new_upload_path("x.csv")
    path.write_bytes(b"Email\na@x.org\n")
    job = services.import_job_create(
        actor=personas.owner, object_type="contacts", path=path, original_name="x.csv", read=False
    )
    monkeypatch.setattr(jobs, "sniff", broken)
    job = services.import_job_read(job=job)
    assert (job.status, job.error_code) == ("failed", "unreadable")
    assert "RuntimeError: parser crashed" in job.error
