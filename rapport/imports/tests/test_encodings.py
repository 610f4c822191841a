"""The import `encoding` is a text encoding: codecs that transform bytes (zlib, bz2,
base64, hex, uu, rot13, punycode, undefined …) are refused with a 422 naming the field,
and never run over the upload."""

import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from rapport.imports.models import ImportJob
from rapport.imports.services.files import FileProblem, normalise_encoding
from rapport.imports.tests.conftest import csv_bytes

NOT_TEXT = [
    "zlib",
    "zlib_codec",
    "bz2",
    "base64",
    "hex",
    "uu",
    "rot13",
    "rot_13",
    "punycode",
    "undefined",
    "quopri",
    "idna",
    "unicode_escape",
]
DATA = csv_bytes([["Email", "Last name"], ["a@x.org", "A"]])


@pytest.mark.parametrize("name", NOT_TEXT)
def test_codecs_that_are_not_text_encodings_are_refused(name):
    with pytest.raises(FileProblem) as exc:
        normalise_encoding(name)
    assert exc.value.code == "unknown_encoding"


@pytest.mark.parametrize("name", ["utf-8", "UTF8", "cp1252", "latin-1", "utf-16", "shift_jis"])
def test_text_encodings_are_accepted(name):
    assert normalise_encoding(name)


def _upload(client, data, **form):
    with TestCase.captureOnCommitCallbacks(execute=True):  # the worker reads it
        return client.client.post(
            "/api/imports",
            {"object_type": "contacts", **form, "file": SimpleUploadedFile("f.csv", data)},
            headers=client.headers,
        )


@pytest.mark.parametrize("name", NOT_TEXT)
def test_the_api_answers_422_on_encoding_and_keeps_nothing(personas, api_as, import_dir, name):
    # A zlib "file" that the zlib codec would unpack while sniffing.
    response = _upload(api_as(personas.owner), zlib.compress(DATA * 100), encoding=name)
    assert response.status_code == 422, response.content
    body = response.json()
    assert (body["field"], body["code"]) == ("encoding", "unknown_encoding")
    assert not ImportJob.objects.exists()
    assert not list(import_dir.iterdir())


@pytest.mark.parametrize("name", ["zlib", "rot13", "undefined", "base64"])
def test_changing_a_job_to_a_codec_that_is_not_text_is_refused(personas, api_as, name):
    client = api_as(personas.owner)
    job_id = _upload(client, DATA).json()["id"]
    response = client.patch(f"/api/imports/{job_id}", {"encoding": name})
    assert response.status_code == 422
    assert (response.data["field"], response.data["code"]) == ("encoding", "unknown_encoding")
    assert ImportJob.objects.get(pk=job_id).encoding == "utf-8"
    with TestCase.captureOnCommitCallbacks(execute=True):
        ok = client.patch(f"/api/imports/{job_id}", {"encoding": "cp1252"})
    assert (ok.status_code, ok.data["status"]) == (200, "reading")
    again = client.get(f"/api/imports/{job_id}").data
    assert (again["status"], again["encoding"]) == ("pending", "cp1252")


def test_a_refused_file_imported_in_place_is_not_deleted(personas, tmp_path):
    from rapport.imports import services

    own = tmp_path / "mine.csv"
    own.write_bytes(DATA)
    for kwargs in ({"encoding": "zlib"}, {"mapping": {"Nope": "nothing"}}):
        with pytest.raises(ValidationError):
            services.import_job_create(
                actor=personas.owner, object_type="contacts", path=own, original_name="m", **kwargs
            )
        assert own.read_bytes() == DATA
    # Nor when the worker finds a mapping naming a column the file does not have.
    job = services.import_job_create(
        actor=personas.owner,
        object_type="contacts",
        path=own,
        original_name="m",
        mapping={"Nope": "email"},
        read=False,
    )
    job = services.import_job_read(job=job)
    assert (job.status, job.error_code) == ("pending", "mapping_not_applied")
    assert "No column named 'Nope'" in job.error
    assert own.read_bytes() == DATA
