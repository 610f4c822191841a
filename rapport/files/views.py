"""Files on record pages: the Files panel (list, upload, remove, undo) and the one download
view for every stored file (record files, mail attachments, raw messages).

Generic over every owned record type, like the Access panel: the record is loaded through the
visibility layer (not visible → 404) and the writes go through rapport.files.services (may not
change the record → 403, and the upload form is only shown to those who may). With htmx the
panel is swapped in place; without JavaScript the forms post and come back to the record page.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from rapport.files.downloads import file_download_response
from rapport.files.selectors import (
    record_file_get_for_user,
    record_files,
    stored_file_get_for_download,
)
from rapport.files.services import (
    MAX_FILES_PER_UPLOAD,
    record_file_delete,
    record_file_restore,
    record_files_add,
)
from rapport.records.selectors import record_get_for_user
from rapport.records.visibility import can_edit, owned_record_models
from rapport.web.decorators import ui_view
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.links import record_url

PANEL = "files/_files_panel.html"


def _load(request, object_type: str, pk: int):
    model = owned_record_models().get(object_type)
    if model is None:
        raise Http404("no such kind of record")
    return record_get_for_user(model=model, pk=pk, user=request.user)


def files_context(request, record, *, error: str = "") -> dict:
    """The Files panel of a record page: its files and whether the user may add/remove."""
    files = list(record_files(record))
    return {
        "record": record,
        "record_files": files,
        "files_can_edit": can_edit(record, request.user),
        "files_url": reverse("files:record_files", args=[record.OBJECT_TYPE, record.pk]),
        "files_error": error,
        "files_max_bytes": settings.RAPPORT_MAX_UPLOAD_BYTES,
        "files_max_label": filesizeformat(settings.RAPPORT_MAX_UPLOAD_BYTES),
        "files_max_count": MAX_FILES_PER_UPLOAD,
    }


def _panel(request, record, *, error: str = "", status: int = 200, changed: bool = False):
    response = render_fragment(request, PANEL, files_context(request, record, error=error), status)
    if changed:
        # The record page's timeline reloads itself: the new files are on it.
        response["HX-Trigger"] = "timeline-changed"
    return response


def _back(request, record, *, error: str = ""):
    if error:
        messages.error(request, error)
    return HttpResponseRedirect(record_url(record) + "#record-files")


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@ui_view
def record_files_view(request, object_type: str, pk: int):
    """GET: the Files panel. POST: upload one or more files (`file`) onto the record."""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    record = _load(request, object_type, pk)
    if request.method != "POST":
        return _panel(request, record) if is_htmx(request) else _back(request, record)
    uploads = request.FILES.getlist("file")
    try:
        rows = record_files_add(record=record, uploads=uploads, actor=request.user)
    except ValidationError as exc:
        if is_htmx(request):
            return _panel(request, record, error=_error_text(exc), status=422)
        return _back(request, record, error=_error_text(exc))
    if len(rows) == 1:
        messages.success(request, f"“{rows[0].name}” added.")
    else:
        messages.success(request, f"{len(rows)} files added.")
    if is_htmx(request):
        return _panel(request, record, changed=True)
    return _back(request, record)


@ui_view
@require_POST
def record_file_delete_view(request, object_type: str, pk: int, file_id: int):
    """Remove a file from the record (undo from the toast)."""
    record = _load(request, object_type, pk)
    stored, record = record_file_get_for_user(pk=file_id, user=request.user, record=record)
    record_file_delete(stored_file=stored, record=record, actor=request.user)
    restore = reverse("files:record_file_restore", args=[object_type, record.pk, stored.pk])
    messages.success(request, f"“{stored.name}” removed.", extra_tags=f"undo:{restore}")
    if is_htmx(request):
        return _panel(request, record)
    return _back(request, record)


@ui_view
@require_POST
def record_file_restore_view(request, object_type: str, pk: int, file_id: int):
    """Put a removed file back (the toast's undo)."""
    record = _load(request, object_type, pk)
    stored, record = record_file_get_for_user(
        pk=file_id, user=request.user, record=record, include_deleted=True
    )
    record_file_restore(stored_file=stored, record=record, actor=request.user)
    messages.success(request, f"“{stored.name}” restored.")
    if is_htmx(request):
        return _panel(request, record)
    return _back(request, record)


@ui_view
@require_safe
def file_download(request, pk: int):
    """Download a stored file the user may see (else the same 404 as a missing id)."""
    return file_download_response(stored_file_get_for_download(pk=pk, user=request.user))
