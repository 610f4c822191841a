"""The imports API: upload (multipart, size limit), edit, start, progress, cancel, errors,
rejected rows, saved mappings; who may do what."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from rapport.accounts.models import Contact
from rapport.imports.models import ImportJob
from rapport.imports.tests.conftest import csv_bytes

DATA = csv_bytes(
    [
        ["First name", "Last name", "E-mail", "Tel", "Notes"],
        ["Ann", "Lee", "ann@example.org", "+44 20 7946 0958", '=HYPERLINK("x")'],
        ["Bob", "", "bob@", "", ""],
    ]
)


def stored(import_dir) -> list:
    return list(import_dir.iterdir()) if import_dir.exists() else []


@pytest.fixture
def post_file(api_as, django_capture_on_commit_callbacks):
    """post_file(user, data, **form) → response of the multipart upload; `posted` is its
    body (status "reading"), `data` the job as GET answers once the worker read the file."""

    def post(user, data=DATA, name="people.csv", **form):
        client = api_as(user)
        form.setdefault("object_type", "contacts")
        payload = {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in form.items()}
        payload["file"] = SimpleUploadedFile(name, data, content_type="text/csv")
        with django_capture_on_commit_callbacks(execute=True):
            response = client.client.post("/api/imports", payload, headers=client.headers)
        response.data = response.posted = response.json() if response.content else None
        if response.status_code == 201:
            response.data = client.get(f"/api/imports/{response.posted['id']}").data
        return response

    return post


def test_upload_answers_reading_then_the_worker_sniffs_and_guesses_the_mapping(
    personas, post_file, import_dir
):
    response = post_file(personas.owner)
    assert response.status_code == 201, response.data
    assert (response.posted["status"], response.posted["headers"]) == ("reading", [])
    job = response.data
    assert (job["status"], job["object_type"], job["file_format"], job["encoding"]) == (
        "pending",
        "contacts",
        "csv",
        "utf-8",
    )
    assert job["headers"] == ["First name", "Last name", "E-mail", "Tel", "Notes"]
    assert job["mapping"] == {
        "First name": "first_name",
        "Last name": "last_name",
        "E-mail": "email",
        "Tel": "phone",
        "Notes": "description",
    }
    assert job["progress"] == {"rows_done": 0, "rows_total": None, "percent": None}
    stored = ImportJob.objects.get(pk=job["id"])
    assert stored.original_name == "people.csv" and stored.size == len(DATA)
    assert list(import_dir.iterdir()) == [__import__("pathlib").Path(stored.file_path)]


def test_upload_start_runs_and_reports_progress_and_rejected_rows(
    personas, post_file, api_as, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(personas.owner, start="true")
    job = api_as(personas.owner).get(f"/api/imports/{response.data['id']}").data
    assert job["status"] == "done"
    assert job["progress"] == {"rows_done": 2, "rows_total": 2, "percent": 100}
    assert job["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 1}
    assert job["rejected_csv"] == f"/api/imports/{job['id']}/rejected.csv"
    assert Contact.objects.get().description == '=HYPERLINK("x")'

    errors = api_as(personas.owner).get(f"/api/imports/{job['id']}/errors").data
    assert [(e["row_number"], e["column"], e["code"]) for e in errors["items"]] == [
        (3, "E-mail", "invalid_email")
    ]

    rejected = api_as(personas.owner).client.get(
        job["rejected_csv"], headers=api_as(personas.owner).headers
    )
    assert rejected.status_code == 200
    assert rejected["Content-Type"].startswith("text/csv")
    text = b"".join(rejected.streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["First name", "Last name", "E-mail", "Tel", "Notes", "row", "reason"]
    assert lines[1][:6] == ["Bob", "", "bob@", "", "", "3"]
    assert lines[1][6].startswith("E-mail: ")


def test_rejected_csv_neutralises_formulas(personas, post_file, api_as, run):
    data = csv_bytes([["Last name", "Email"], ["=cmd()", "bad"]])
    job = ImportJob.objects.get(pk=post_file(personas.owner, data).data["id"])
    run(job)
    client = api_as(personas.owner)
    response = client.client.get(f"/api/imports/{job.pk}/rejected.csv", headers=client.headers)
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text)))[1][0] == "'=cmd()"


def test_a_file_over_the_limit_is_refused_with_413_and_not_kept(
    personas, post_file, settings, import_dir
):
    settings.RAPPORT_IMPORT_MAX_BYTES = 100
    response = post_file(personas.owner, b"Last name\n" + b"Lee\n" * 100)
    assert response.status_code == 413
    assert (response.data["code"], response.data["field"]) == ("file_too_large", "file")
    assert "100 bytes" in response.data["detail"]
    assert not ImportJob.objects.exists()
    assert not stored(import_dir)


def test_the_upload_handler_stops_a_stream_past_the_limit(personas, settings, import_dir):
    from rapport.imports.services.files import LimitedUploadHandler

    handler = LimitedUploadHandler(limit=10)
    handler.new_file("file", "a.csv", "text/csv", None)
    handler.receive_data_chunk(b"12345", 0)
    from django.core.files.uploadhandler import StopUpload

    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"123456", 5)
    assert handler.too_large and handler.path is None
    assert not stored(import_dir)


def test_a_bad_file_fails_its_reading_with_the_problem_named_and_is_not_kept(
    personas, post_file, import_dir
):
    response = post_file(personas.owner, b"\x89PNG\r\n\x1a\n\x00\x00\x00", name="photo.csv")
    assert (response.status_code, response.posted["status"]) == (201, "reading")
    assert (response.data["status"], response.data["error_code"]) == ("failed", "not_tabular")
    assert response.data["error"] == "This file is a PNG image, not a CSV or XLSX table"
    assert not stored(import_dir)


def test_a_bad_form_is_a_422_naming_the_field(personas, post_file, import_dir):
    response = post_file(personas.owner, object_type="planets")
    assert response.status_code == 422
    assert response.data["field"] == "object_type"
    assert not stored(import_dir)


def test_upload_without_multipart_is_a_422(personas, api_as):
    response = api_as(personas.owner).post("/api/imports", {"object_type": "contacts"})
    assert response.status_code == 422
    assert response.data["code"] == "multipart_required"


def test_a_read_only_user_gets_403_and_nothing_is_stored(personas, post_file, import_dir):
    response = post_file(personas.reader)
    assert response.status_code == 403
    assert response.data["code"] == "read_only"
    assert not stored(import_dir)


def test_anonymous_and_deactivated_users_get_401(personas, post_file, api_as):
    assert api_as(None).get("/api/imports").status_code == 401
    assert post_file(personas.deactivated).status_code == 401


def test_jobs_are_private_to_their_uploader_and_admins(personas, post_file, api_as):
    job_id = post_file(personas.owner).data["id"]
    assert api_as(personas.teammate).get(f"/api/imports/{job_id}").status_code == 404
    assert api_as(personas.manager).get(f"/api/imports/{job_id}").status_code == 404
    assert api_as(personas.admin).get(f"/api/imports/{job_id}").status_code == 200
    assert api_as(personas.outsider).post(f"/api/imports/{job_id}/start").status_code == 404
    assert (
        api_as(personas.outsider)
        .client.get(
            f"/api/imports/{job_id}/rejected.csv", headers=api_as(personas.outsider).headers
        )
        .status_code
        == 404
    )


def test_patch_edits_the_mapping_and_refuses_bad_ones(personas, post_file, api_as):
    job_id = post_file(personas.owner).data["id"]
    client = api_as(personas.owner)
    response = client.patch(
        f"/api/imports/{job_id}",
        {"mapping": {"Last name": "last_name", "Notes": "title"}, "policy": "skip"},
    )
    assert response.status_code == 200
    assert response.data["policy"] == "skip"
    # The mapping sent replaces the whole mapping: columns not in it are ignored.
    assert response.data["mapping"] == {
        "First name": None,
        "Last name": "last_name",
        "E-mail": None,
        "Tel": None,
        "Notes": "title",
    }
    bad = client.patch(f"/api/imports/{job_id}", {"mapping": {"Tel": "shoe_size"}})
    assert bad.status_code == 422
    assert (bad.data["field"], bad.data["code"]) == ("mapping", "unknown_field")
    assert client.patch(f"/api/imports/{job_id}", {"policy": "merge"}).status_code == 422


def test_start_checks_the_mapping_and_a_queued_job_cannot_start_twice(personas, post_file, api_as):
    job_id = post_file(personas.owner).data["id"]
    client = api_as(personas.owner)
    ImportJob.objects.filter(pk=job_id).update(mapping={"Notes": "description"})
    response = client.post(f"/api/imports/{job_id}/start")
    assert (response.status_code, response.data["code"]) == (422, "required_columns")
    ImportJob.objects.filter(pk=job_id).update(mapping={"Last name": "last_name"})
    assert client.post(f"/api/imports/{job_id}/start").status_code == 200  # queued, not run
    again = client.post(f"/api/imports/{job_id}/start")
    assert (again.status_code, again.data["code"]) == (409, "import_running")
    assert client.patch(f"/api/imports/{job_id}", {"policy": "skip"}).status_code == 409


def test_a_dry_run_then_the_real_run_from_the_same_upload(
    personas, post_file, api_as, django_capture_on_commit_callbacks
):
    client = api_as(personas.owner)
    job_id = post_file(personas.owner, dry_run="true").data["id"]
    with django_capture_on_commit_callbacks(execute=True):
        dry = client.post(f"/api/imports/{job_id}/start").data
    assert dry["dry_run"] is True
    assert client.get(f"/api/imports/{job_id}").data["counts"]["created"] == 1
    assert not Contact.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/api/imports/{job_id}/start", {"dry_run": False})
    job = client.get(f"/api/imports/{job_id}").data
    assert (job["status"], job["dry_run"], job["counts"]["created"]) == ("done", False, 1)
    assert Contact.objects.count() == 1


def test_cancel_a_pending_job_and_not_a_finished_one(personas, post_file, api_as, run):
    client = api_as(personas.owner)
    job_id = post_file(personas.owner).data["id"]
    response = client.post(f"/api/imports/{job_id}/cancel")
    assert (response.status_code, response.data["status"]) == (200, "cancelled")
    again = client.post(f"/api/imports/{job_id}/cancel")
    assert (again.status_code, again.data["code"]) == (409, "import_finished")


def test_delete_removes_the_job_and_its_file(
    personas, post_file, api_as, import_dir, django_capture_on_commit_callbacks
):
    job_id = post_file(personas.owner).data["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert api_as(personas.owner).delete(f"/api/imports/{job_id}").status_code == 204
    assert not ImportJob.objects.exists()
    assert not stored(import_dir)


def test_list_shows_own_jobs_with_constant_queries(
    personas, post_file, api_as, django_assert_max_num_queries
):
    for _ in range(3):
        post_file(personas.owner)
    post_file(personas.teammate)
    client = api_as(personas.owner)
    with django_assert_max_num_queries(6):
        response = client.get("/api/imports", object_type="contacts")
    assert response.data["count"] == 3
    assert len(api_as(personas.admin).get("/api/imports").data["items"]) == 4
    assert api_as(personas.owner).get("/api/imports", status="done").data["count"] == 0


def test_fields_endpoint_lists_builtin_and_custom_fields(personas, api_as):
    from rapport.records.custom_fields import custom_field_define

    custom_field_define(object_type="contact", key="vip", label="VIP", field_type="number")
    fields = api_as(personas.owner).get("/api/imports/fields/contacts").data
    by_key = {f["key"]: f for f in fields}
    assert by_key["email"]["match_key"] is True
    assert by_key["last_name"]["required"] is True
    assert by_key["custom.vip"]["label"] == "VIP"
    assert api_as(personas.owner).get("/api/imports/fields/planets").status_code == 422


def test_saved_mappings_are_kept_per_user_and_applied_on_upload(personas, post_file, api_as):
    client = api_as(personas.owner)
    created = client.post(
        "/api/imports/mappings",
        {
            "name": "CRM export",
            "object_type": "contacts",
            "mapping": {"Tel": None, "Notes": "title"},
        },
    )
    assert created.status_code == 201
    duplicate = client.post(
        "/api/imports/mappings",
        {"name": "CRM export", "object_type": "contacts", "mapping": {}},
    )
    assert duplicate.status_code == 409
    bad = client.post(
        "/api/imports/mappings",
        {"name": "Bad", "object_type": "contacts", "mapping": {"Tel": "nope"}},
    )
    assert (bad.status_code, bad.data["field"]) == (422, "mapping")
    assert api_as(personas.teammate).get("/api/imports/mappings").data == []
    job = post_file(personas.owner, saved_mapping_id=str(created.data["id"])).data
    assert job["mapping"] == {
        "First name": None,
        "Last name": None,
        "E-mail": None,
        "Tel": None,
        "Notes": "title",
    }
    other = api_as(personas.teammate).delete(f"/api/imports/mappings/{created.data['id']}")
    assert other.status_code == 404
    assert client.delete(f"/api/imports/mappings/{created.data['id']}").status_code == 204


def test_an_upload_parsed_before_the_view_is_copied_with_the_same_limit(db, settings, import_dir):
    """A session request without the CSRF header has its form read by the CSRF check
    before the view: the file then comes through Django's handlers and is copied."""
    from django.test import RequestFactory

    from rapport.imports.services.files import receive_upload as _receive_upload

    def request(data: bytes):
        req = RequestFactory().post(
            "/api/imports",
            {"object_type": "contacts", "file": SimpleUploadedFile("a.csv", data)},
        )
        req.POST  # noqa: B018 - parsed early, as the CSRF check does
        return req

    path, name = _receive_upload(request(b"Last name\nLee\n"))
    assert (path.read_bytes(), name) == (b"Last name\nLee\n", "a.csv")
    settings.RAPPORT_IMPORT_MAX_BYTES = 5
    assert _receive_upload(request(b"Last name\nLee\n")) is None


def test_an_upload_with_an_idempotency_key_larger_than_the_memory_limit_is_replayed(
    personas, api_as, import_dir, settings
):
    """The idempotency middleware must not read a file upload into memory (Django refuses a
    body over DATA_UPLOAD_MAX_MEMORY_SIZE): a retried upload with the same key is replayed."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    rows = [["First name", "Last name", "E-mail"]] + [
        [f"P{i}", f"L{i}", f"p{i}@example.org"] for i in range(200)
    ]
    data = csv_bytes(rows)
    assert len(data) > 1024
    client = api_as(personas.owner)
    headers = {**client.headers, "Idempotency-Key": "upload-1"}

    def upload():
        payload = {
            "object_type": "contacts",
            "file": SimpleUploadedFile("big.csv", data, content_type="text/csv"),
        }
        return client.client.post("/api/imports", payload, headers=headers)

    first = upload()
    assert first.status_code == 201, first.content
    again = upload()
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert ImportJob.objects.count() == 1
