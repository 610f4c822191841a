"""Which storage keeps the files: a local folder by default, an S3-compatible store with
RAPPORT_FILE_STORAGE=s3 (checked without any network: signing a URL is local work)."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from rapport.accounts.services import contact_create
from rapport.files.services import record_files_add
from rapport.files.storage_config import default_storage_from_env, file_storage_kind
from rapport.web.testing import ui_client

S3_ENV = {
    "RAPPORT_FILE_STORAGE": "s3",
    "RAPPORT_S3_BUCKET": "rapport-files",
    "RAPPORT_S3_ENDPOINT_URL": "http://127.0.0.1:9",  # a closed port: nothing is sent
    "RAPPORT_S3_REGION": "eu-west-1",
    "RAPPORT_S3_ACCESS_KEY_ID": "AKIATEST",
    "RAPPORT_S3_SECRET_ACCESS_KEY": "secret",
    "RAPPORT_S3_PREFIX": "/crm/",
    "RAPPORT_S3_URL_SECONDS": "30",
}


def test_local_folder_is_the_default():
    assert file_storage_kind({}) == "local"
    assert default_storage_from_env({}) == {
        "BACKEND": "django.core.files.storage.FileSystemStorage"
    }


def test_an_unknown_storage_kind_is_refused_by_name():
    with pytest.raises(RuntimeError, match="RAPPORT_FILE_STORAGE"):
        default_storage_from_env({"RAPPORT_FILE_STORAGE": "ftp"})


def test_s3_settings_build_a_private_signed_url_backend():
    pytest.importorskip("storages")
    config = default_storage_from_env(S3_ENV)
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    assert config["OPTIONS"] == {
        "bucket_name": "rapport-files",
        "location": "crm",
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": 30,
        "file_overwrite": True,
        "signature_version": "s3v4",
        "endpoint_url": "http://127.0.0.1:9",
        "region_name": "eu-west-1",
        "access_key": "AKIATEST",
        "secret_key": "secret",
    }
    from storages.backends.s3 import S3Storage

    storage = S3Storage(**config["OPTIONS"])  # the options are ones the backend accepts
    assert storage.bucket_name == "rapport-files" and storage.querystring_expire == 30


def test_s3_without_a_bucket_names_the_variable():
    pytest.importorskip("storages")
    with pytest.raises(RuntimeError, match="RAPPORT_S3_BUCKET"):
        default_storage_from_env({"RAPPORT_FILE_STORAGE": "s3"})


@pytest.mark.django_db
def test_s3_download_redirects_to_a_short_signed_link_only_after_the_check(personas, settings):
    """Bytes are written locally (the test has no S3), the download is answered as on S3."""
    pytest.importorskip("storages")
    from storages.backends.s3 import S3Storage

    contact = contact_create(actor=personas.owner, fields={"last_name": "S3"})
    [row] = record_files_add(
        record=contact,
        uploads=[SimpleUploadedFile("page.html", b"<html><b>x</b></html>")],
        actor=personas.owner,
    )
    settings.RAPPORT_FILE_STORAGE = "s3"
    row.file.storage = S3Storage(**default_storage_from_env(S3_ENV)["OPTIONS"])
    from rapport.files import downloads

    response = downloads.file_download_response(row)
    assert response.status_code == 302
    link = urlsplit(response["Location"])
    assert link.netloc == "127.0.0.1:9" and link.path == f"/rapport-files/crm/{row.file.name}"
    query = parse_qs(link.query)
    assert query["X-Amz-Expires"] == ["30"]
    assert query["response-content-disposition"] == ['attachment; filename="page.html"']
    assert query["response-content-type"] == ["application/octet-stream"]
    assert response["Cache-Control"] == "private, no-store"
    # Through the view, an outsider gets the 404 and no link.
    outsider = ui_client(personas.outsider).get(f"/files/{row.pk}/download")
    assert outsider.status_code == 404 and "Location" not in outsider
