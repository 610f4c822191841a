"""The one way a stored file leaves Rapport, for the UI and the API alike: always as an
attachment (a user's HTML or SVG is never rendered on our origin), never sniffed into something
else, streamed from the local storage, or — on S3 — a redirect to a short-lived signed URL.

Call only after the visibility check (rapport.files.selectors)."""

import logging

from django.conf import settings
from django.http import FileResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header

from rapport.files.models import StoredFile
from rapport.files.services import safe_filename
from rapport.files.storage_config import S3
from rapport.records.exceptions import RecordNotFound

logger = logging.getLogger(__name__)

# Types a browser would render or run when opened: sent as plain bytes instead.
ACTIVE_TYPES = {
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "text/css",
    "application/x-shockwave-flash",
}
# Even a download must not run anything if some browser opens it in place.
DOWNLOAD_CSP = "default-src 'none'; sandbox"


def served_type(stored: StoredFile) -> str:
    content_type = (stored.content_type or "").split(";")[0].strip().lower()
    if not content_type or content_type in ACTIVE_TYPES or "\n" in content_type:
        return "application/octet-stream"
    return content_type


def file_download_response(stored: StoredFile):
    """The download of `stored` (the caller has checked the user may see it)."""
    name = safe_filename(stored.name)
    content_type = served_type(stored)
    if settings.RAPPORT_FILE_STORAGE == S3:
        url = stored.file.storage.url(
            stored.file.name,
            parameters={
                "ResponseContentDisposition": content_disposition_header(True, name),
                "ResponseContentType": content_type,
            },
        )
        response = HttpResponseRedirect(url)
    else:
        try:
            handle = stored.file.open("rb")
        except FileNotFoundError:
            # The row outlived its bytes (a restore without the media folder, say): say so in
            # the log, answer as for a missing file.
            logger.error(
                "stored file %s: %s is missing from the storage", stored.pk, stored.file.name
            )
            raise RecordNotFound("file") from None
        response = FileResponse(
            handle, as_attachment=True, filename=name, content_type=content_type
        )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    # Access can be taken away: no shared cache may keep the bytes or the signed link.
    response["Cache-Control"] = "private, no-store"
    return response
