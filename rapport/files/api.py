"""Files through the API: list and upload per record (`/api/<records>/{id}/files`), read,
download and remove by id (`/api/files/{id}`). A record the user may not see, and a file on
such a record (or a mail attachment of a message they may not see), is a 404."""

import datetime

from django.core.exceptions import ValidationError
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from rapport.api.errors import error_body
from rapport.api.pagination import keyset_page
from rapport.files.downloads import file_download_response
from rapport.files.models import FileKind, StoredFile
from rapport.files.selectors import (
    record_file_get_for_user,
    record_files,
    stored_file_get_for_download,
)
from rapport.files.services import record_file_delete, record_files_add
from rapport.records.api import ERRORS, ErrorOut, Id, page_response
from rapport.records.exceptions import Conflict
from rapport.records.selectors import record_get_for_user
from rapport.records.visibility import owned_record_models

router = Router(tags=["files"])

# Object type → the URL prefix of its records in the API.
PATHS = {
    "account": "accounts",
    "contact": "contacts",
    "lead": "leads",
    "opportunity": "opportunities",
}


class FileOut(Schema):
    id: int
    name: str
    size: int
    content_type: str
    kind: str
    uploaded_by_id: int | None
    uploaded_by_name: str | None
    created_at: datetime.datetime
    account_id: int | None
    contact_id: int | None
    lead_id: int | None
    opportunity_id: int | None
    download_url: str

    @staticmethod
    def resolve_uploaded_by_name(obj: StoredFile) -> str | None:
        user = obj.uploaded_by
        return (user.get_full_name() or user.username) if user else None

    @staticmethod
    def resolve_download_url(obj: StoredFile) -> str:
        return f"/api/files/{obj.pk}/download"


class FilePage(Schema):
    items: list[FileOut]
    next_cursor: str | None
    count: int | str


def _add_record_routes(object_type: str, prefix: str) -> None:
    model = owned_record_models()[object_type]

    @router.get(
        f"/{prefix}/{{int:pk}}/files",
        response={200: FilePage, **ERRORS},
        operation_id=f"{object_type}_files",
        summary=f"Files uploaded on a {object_type}, newest first",
    )
    def files_list(
        request, pk: Id, cursor: str | None = None, limit: int = Query(50, ge=1, le=200)
    ):
        record = record_get_for_user(model=model, pk=pk, user=request.user)
        page = keyset_page(
            record_files(record),
            sort="-created_at",
            allowed={"created_at"},
            cursor=cursor,
            limit=limit,
        )
        return page_response(page)

    @router.post(
        f"/{prefix}/{{int:pk}}/files",
        response={201: list[FileOut], 413: ErrorOut, **ERRORS},
        operation_id=f"{object_type}_files_upload",
        summary=f"Upload files on a {object_type} (multipart, field `file`, repeatable)",
    )
    def files_upload(request, pk: Id, file: list[UploadedFile] = File(...)):  # noqa: B008
        record = record_get_for_user(model=model, pk=pk, user=request.user)
        try:
            rows = record_files_add(record=record, uploads=file, actor=request.user)
        except ValidationError as exc:
            too_large = [e for e in exc.error_dict.get("file", []) if e.code == "file_too_large"]
            if too_large:
                return Status(413, error_body(too_large[0].messages[0], "file_too_large", "file"))
            raise
        ids = [row.pk for row in rows]
        return Status(
            201, list(StoredFile.objects.filter(pk__in=ids).select_related("uploaded_by"))
        )


for _object_type, _prefix in PATHS.items():
    _add_record_routes(_object_type, _prefix)


@router.get(
    "/files/{int:pk}",
    response={200: FileOut, **ERRORS},
    operation_id="file_get",
    summary="A file's name, size, type and record",
)
def file_get(request, pk: Id):
    stored = stored_file_get_for_download(pk=pk, user=request.user)
    return StoredFile.objects.select_related("uploaded_by").get(pk=stored.pk)


@router.get(
    "/files/{int:pk}/download",
    response={200: None, 302: None, **ERRORS},
    operation_id="file_download",
    summary="The file's bytes, as an attachment (on S3: a redirect to a short-lived link)",
)
def file_download(request, pk: Id):
    return file_download_response(stored_file_get_for_download(pk=pk, user=request.user))


@router.delete(
    "/files/{int:pk}",
    response={204: None, **ERRORS},
    operation_id="file_delete",
    summary="Remove a file from its record (people who may change the record)",
)
def file_delete(request, pk: Id):
    stored = stored_file_get_for_download(pk=pk, user=request.user)
    if stored.kind != FileKind.RECORD:
        raise Conflict("An email's attachments stay with the email", code="mail_file", field=None)
    stored, record = record_file_get_for_user(pk=pk, user=request.user)
    record_file_delete(stored_file=stored, record=record, actor=request.user)
    return Status(204, None)
