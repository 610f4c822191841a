"""The import pages: upload → map the columns → dry run → run (a background task, followed
by htmx polling) → results and the rejected rows; and the list of one's imports.

Thin over the same services and selectors as /api/imports: the views only translate
their answers (ValidationError next to the field, Conflict as a message, RecordNotFound
as 404 through @ui_view).
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from rapport.api.pagination import keyset_page
from rapport.imports import selectors, services
from rapport.imports.forms import (
    MappingForm,
    ReadingForm,
    SavedMappingPickForm,
    UploadForm,
    mapping_initial,
    match_keys_of,
    object_type_of,
)
from rapport.imports.models import ACTIVE_STATUSES, FINISHED_STATUSES, ImportStatus
from rapport.imports.services.files import (
    finish_upload,
    human_size,
    max_bytes,
    start_upload,
    too_large_message,
)
from rapport.imports.services.mapping import targets_for
from rapport.records.exceptions import Conflict, PermissionDenied
from rapport.records.export import csv_response
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.fragments import is_htmx, render_fragment

STEPS = [
    ("upload", "Upload"),
    ("mapping", "Map columns"),
    ("dry_run", "Dry run"),
    ("run", "Import"),
]
ERRORS_ON_PAGE = 20
ERRORS_PER_PAGE = 100
# Where each imported object's list lives (to go and look at the result).
LIST_URLS = {
    "accounts": "accounts:account_list",
    "contacts": "accounts:contact_list",
    "leads": "leads:lead_list",
    "opportunities": "sales:opportunity_list",
    "products": "catalog:product_list",
    "orders": "orders:order_list",
    "assets": "assets:asset_list",
}


def _detail(job) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("imports:import_detail", args=[job.pk]))


def _mapping_url(job) -> str:
    return reverse("imports:import_mapping", args=[job.pk])


def _editable(job) -> bool:
    return job.status not in ACTIVE_STATUSES and not (
        job.status == ImportStatus.PENDING and job.queued_at
    )


def _list_url(object_type: str) -> str:
    try:
        return reverse(LIST_URLS[object_type])
    except NoReverseMatch:  # that app's pages are not installed: no link then
        return ""


# ----- step 1: upload ---------------------------------------------------------------------


def _saved_mappings(user, object_type: str | None = None):
    return list(selectors.saved_mappings_of(user=user, object_type=object_type))


@csrf_exempt  # checked by csrf_protect below, once the upload handler is in place
@ui_view
def import_new(request):
    """The upload form; the file streams into the import directory with the size limit
    (a too large file is cut off, not stored)."""
    services.require_import_writer(request.user)
    saved = _saved_mappings(request.user)
    if request.method != "POST":
        initial = {"object_type": object_type_of(request.GET.get("object_type")) or "contacts"}
        form = UploadForm(initial=initial, saved_mappings=saved)
        return _upload_page(request, form)
    try:
        handler = start_upload(request)
    except ValidationError as exc:
        return _refused(request, saved, _text(exc))
    if handler is None:
        # Larger than the limit by its length alone: refused without reading the body.
        return _refused(request, saved, _too_large(), status=413)
    response = _upload(request, saved, handler)
    if not getattr(handler, "claimed", False):
        # The CSRF check refused the form after its body (and file) was read.
        handler.discard()
    return response


def _too_large() -> str:
    return (
        too_large_message(max_bytes()) + ": split it into smaller files, or save it as CSV "
        "(smaller than XLSX)"
    )


def _refused(request, saved, message: str, status: int = 422):
    """The upload form again with `message` on the file, the body left unread."""
    initial = {"object_type": object_type_of(request.GET.get("object_type")) or "contacts"}
    form = UploadForm(initial=initial, saved_mappings=saved)
    form.cleaned_data = {}  # add_error on an unbound form expects it
    form.add_error("file", message)
    return _upload_page(request, form, status=status)


@csrf_protect
def _upload(request, saved, handler):
    handler.claimed = True  # from here on this view keeps or deletes the file
    received = None
    file_errors: list[str] = []
    try:
        received = finish_upload(request, handler)
        if received is None:
            file_errors.append(_too_large())
    except ValidationError as exc:
        file_errors += [m for ms in exc.message_dict.values() for m in ms]
    form = UploadForm(request.POST, saved_mappings=saved)
    path, name = received if received else (None, "")
    valid = form.is_valid()
    for message in file_errors:
        form.add_error("file", message)
    if not valid or path is None:
        if path is not None:
            path.unlink(missing_ok=True)
        return _upload_page(request, form, status=422)
    data = form.cleaned_data
    try:
        services.require_importer(request.user, data["object_type"])
        saved_mapping = None
        if data.get("saved_mapping"):
            saved_mapping = selectors.saved_mapping_get_for_user(
                pk=data["saved_mapping"], user=request.user
            )
        job = services.import_job_create(
            actor=request.user,
            object_type=data["object_type"],
            path=path,
            original_name=name,
            encoding=data.get("encoding") or None,
            saved_mapping=saved_mapping,
        )
    except PermissionDenied as exc:
        path.unlink(missing_ok=True)
        form.add_error("object_type", str(exc))
        return _upload_page(request, form, status=403)
    except ValidationError as exc:
        path.unlink(missing_ok=True)  # import_job_create removed it already on most errors
        add_service_errors(form, exc, {"saved_mapping_id": "saved_mapping"})
        return _upload_page(request, form, status=422)
    except Exception:
        path.unlink(missing_ok=True)
        raise
    messages.success(request, f"{job.original_name} uploaded: its columns are read next.")
    return HttpResponseRedirect(_mapping_url(job))


def _upload_page(request, form, status: int = 200):
    context = {
        "form": form,
        "max_size": human_size(max_bytes()),
        "import_steps": STEPS,
    }
    return render(request, "imports/import_new.html", context, status=status)


# ----- step 2: mapping --------------------------------------------------------------------


def _ragged_rows(job, preview: list[list[str]]) -> list[str]:
    width = len(job.headers)
    if job.file_format == "xlsx":
        return []
    return [
        f"Row {n} has {len(cells)} cells but the header has {width} columns"
        for n, cells in enumerate(preview, start=2)
        if len(cells) != width
    ]


def _mapping_page(request, job, form=None, status: int = 200, reading=None):
    targets = targets_for(job.object_type)
    form = form or MappingForm(
        initial=mapping_initial(job),
        headers=job.headers,
        targets=targets,
        object_type=job.object_type,
    )
    preview = selectors.job_preview(job)
    columns = [
        {
            "field": field,
            "samples": [row[i] for row in preview if i < len(row) and row[i].strip()],
        }
        for i, field in enumerate(form.column_fields())
    ]
    saved = _saved_mappings(request.user, job.object_type)
    context = {
        "job": job,
        "form": form,
        "columns": columns,
        "required": [t.label for t in targets.values() if t.required and t.custom is None],
        "match_keys": match_keys_of(job.object_type, targets),
        "ragged": _ragged_rows(job, preview),
        "pick_form": SavedMappingPickForm(saved_mappings=saved) if saved else None,
        "reading_form": reading or ReadingForm(initial={"encoding": job.encoding, "delimiter": ""}),
        "editable": _editable(job),
        "import_steps": STEPS,
    }
    return render(request, "imports/import_mapping.html", context, status=status)


def _unread(job) -> bool:
    """The worker has not read the file yet, or could not read it (nothing to map)."""
    return job.status == ImportStatus.READING or (
        job.status == ImportStatus.FAILED and not job.headers
    )


def _reading_context(job) -> dict:
    waited = int((timezone.now() - job.updated_at).total_seconds()) if job.updated_at else 0
    return {"job": job, "waited": max(waited, 0), "import_steps": STEPS}


@ui_view
def import_reading(request, pk: int):
    """The reading panel alone: htmx polls it until the worker has read the file, then the
    browser goes to the mapping (or to the reading error)."""
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    if not is_htmx(request) or job.status != ImportStatus.READING:
        if is_htmx(request):
            return HttpResponseClientRedirect(_mapping_url(job))
        return HttpResponseRedirect(_mapping_url(job))
    return render_fragment(request, "imports/_reading.html", _reading_context(job))


@ui_view
def import_mapping(request, pk: int):
    """The guessed mapping, editable; saving it, saving it under a name, a dry run or the
    import itself are the form's buttons. While the worker reads the file the page waits for
    it (htmx polling); a file it could not read shows why."""
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    if _unread(job):
        if request.method == "POST":
            return HttpResponseRedirect(_mapping_url(job))
        return render(request, "imports/import_reading.html", _reading_context(job))
    if request.method != "POST":
        return _mapping_page(request, job)
    targets = targets_for(job.object_type)
    form = MappingForm(
        request.POST, headers=job.headers, targets=targets, object_type=job.object_type
    )
    action = request.POST.get("action", "save")
    if not form.is_valid():
        return _mapping_page(request, job, form, status=422)
    mapping = form.mapping()
    try:
        services.import_job_update(
            job=job,
            actor=request.user,
            fields={
                "mapping": mapping,
                "policy": form.cleaned_data["policy"],
                **{
                    k: form.cleaned_data[k]
                    for k in ("strict", "create_customers")
                    if k in form.fields
                },
            },
        )
        if form.cleaned_data["save_as"].strip():
            saved = services.saved_mapping_create(
                actor=request.user,
                name=form.cleaned_data["save_as"],
                object_type=job.object_type,
                mapping=mapping,
            )
            messages.success(request, f"Mapping saved as “{saved.name}”.")
        if action in ("dry_run", "run"):
            services.import_job_start(job=job, actor=request.user, dry_run=action == "dry_run")
    except ValidationError as exc:
        add_service_errors(form, exc, {"mapping": "__all__", "name": "save_as"})
        return _mapping_page(request, job, form, status=422)
    except Conflict as exc:
        if exc.field == "name":
            form.add_error("save_as", str(exc))
            return _mapping_page(request, job, form, status=409)
        form.add_error(None, str(exc))
        return _mapping_page(request, job, form, status=409)
    if action == "dry_run":
        messages.success(request, "Dry run started: nothing will be written.")
    elif action == "run":
        messages.success(request, "Import started.")
    else:
        messages.success(request, "Mapping saved.")
        return HttpResponseRedirect(_mapping_url(job))
    return _detail(job)


@ui_view
@require_POST
def import_mapping_apply(request, pk: int):
    """Replace the mapping by a saved one (columns it does not know are not imported)."""
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    saved = _saved_mappings(request.user, job.object_type)
    form = SavedMappingPickForm(request.POST, saved_mappings=saved)
    if form.is_valid():
        chosen = selectors.saved_mapping_get_for_user(
            pk=form.cleaned_data["saved_mapping"], user=request.user
        )
        try:
            services.import_job_update(
                job=job, actor=request.user, fields={"saved_mapping": chosen}
            )
            messages.success(request, f"Mapping “{chosen.name}” applied.")
        except (ValidationError, Conflict) as exc:
            messages.error(request, _text(exc))
    else:
        messages.error(request, "Choose a saved mapping.")
    return HttpResponseRedirect(_mapping_url(job))


@ui_view
@require_POST
def import_reread(request, pk: int):
    """Read a CSV again with another encoding or delimiter (the mapping is guessed again)."""
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    form = ReadingForm(request.POST)
    if not form.is_valid():
        return _mapping_page(request, job, reading=form, status=422)
    fields = {k: v for k, v in form.cleaned_data.items() if v}
    if not fields:
        return HttpResponseRedirect(_mapping_url(job))
    try:
        services.import_job_update(job=job, actor=request.user, fields=fields)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _mapping_page(request, job, reading=form, status=422)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Reading the file again; check the mapping once it shows.")
    return HttpResponseRedirect(_mapping_url(job))


def _text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(m for ms in exc.message_dict.values() for m in ms)
    return str(exc)


# ----- steps 3 and 4: dry run, run, progress, results ---------------------------------------


def _with_values(job, errors: list) -> list:
    """Each error with the cell it is about (from the row as read), for the error table."""
    index = {h: i for i, h in enumerate(job.headers)}
    for error in errors:
        i = index.get(error.column)
        raw = error.raw or []
        error.cell_value = raw[i] if i is not None and i < len(raw) else ""
    return errors


# The job's other counts (ImportJob.extra), as the status panel names them.
EXTRA_LABELS = {
    "accounts_created": "Accounts created",
    "customers_created": "Customers created",
}


def _status_context(job) -> dict:
    errors = _with_values(job, list(selectors.row_errors_of(job)[: ERRORS_ON_PAGE + 1]))
    total = job.rows_total
    percent = None
    if job.dry_run and job.status == ImportStatus.RUNNING:
        percent = None  # a dry run's progress is not written until it ends
    elif total:
        percent = min(100, round(100 * job.rows_done / total))
    elif total == 0 and job.status == ImportStatus.DONE:
        percent = 100
    warned = job.extra.get("rows_with_warnings", 0) if isinstance(job.extra, dict) else 0
    return {
        "job": job,
        "active": job.status in ACTIVE_STATUSES
        or (job.status == ImportStatus.PENDING and job.queued_at is not None),
        "finished": job.status in FINISHED_STATUSES,
        "started": job.queued_at is not None,
        "percent": percent,
        "errors": errors[:ERRORS_ON_PAGE],
        "more_errors": len(errors) > ERRORS_ON_PAGE,
        "has_errors": bool(errors),
        "counts": [
            ("Would create" if job.dry_run else "Created", job.created),
            ("Would update" if job.dry_run else "Updated", job.updated),
            ("Unchanged", job.unchanged),
            ("Would skip" if job.dry_run else "Skipped", job.skipped),
            ("Would fail" if job.dry_run else "Failed", job.failed),
            *([("With warnings", warned)] if warned else []),
        ],
        "extra": [
            (EXTRA_LABELS.get(key, key.replace("_", " ")), value)
            for key, value in sorted(job.extra.items() if isinstance(job.extra, dict) else [])
            if key != "rows_with_warnings"
        ],
        "warned": warned,
        "editable": _editable(job),
        "list_url": _list_url(job.object_type),
        "import_steps": STEPS,
        "step": "mapping" if job.queued_at is None else ("dry_run" if job.dry_run else "run"),
    }


@ui_view
def import_detail(request, pk: int):
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    return render(request, "imports/import_detail.html", _status_context(job))


@ui_view
def import_progress(request, pk: int):
    """The status panel alone: htmx polls it while the import runs."""
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    if not is_htmx(request):
        return _detail(job)
    return render_fragment(request, "imports/_status.html", _status_context(job))


@ui_view
@require_POST
def import_start(request, pk: int):
    """Queue the job again: `dry_run=1` validates only; otherwise it writes."""
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    dry_run = request.POST.get("dry_run") == "1"
    try:
        services.import_job_start(job=job, actor=request.user, dry_run=dry_run)
    except ValidationError as exc:
        messages.error(request, _text(exc) + " Fix the mapping first.")
        return HttpResponseRedirect(_mapping_url(job))
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, "Dry run started: nothing will be written." if dry_run else "Import started."
        )
    return _detail(job)


@ui_view
@require_POST
def import_cancel(request, pk: int):
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    try:
        job = services.import_job_cancel(job=job, actor=request.user)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        if job.status == ImportStatus.CANCELLED:
            messages.success(request, "Import cancelled.")
        else:
            messages.success(request, "Stopping after the current batch…")
    if is_htmx(request):
        return render_fragment(request, "imports/_status.html", _status_context(job))
    return _detail(job)


@ui_view
def import_errors(request, pk: int):
    """Every row error, in file order, a page at a time."""
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    page = keyset_page(
        selectors.row_errors_of(job),
        sort="row_number",
        allowed={"row_number"},
        cursor=request.GET.get("cursor") or None,
        limit=ERRORS_PER_PAGE,
    )
    page.items = _with_values(job, page.items)
    return render(request, "imports/import_errors.html", {"job": job, "page": page})


@ui_view
def import_rejected_csv(request, pk: int):
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    filename, header, rows = selectors.rejected_rows_of(job)
    return csv_response(filename, header, rows)


# ----- my imports ---------------------------------------------------------------------------


@ui_view
def import_list(request):
    page = keyset_page(
        selectors.job_list(user=request.user),
        sort="-created_at",
        allowed=selectors.JOB_SORTS,
        cursor=request.GET.get("cursor") or None,
        limit=50,
    )
    return render(
        request,
        "imports/import_list.html",
        {"page": page, "can_import": not request.user.is_read_only},
    )
