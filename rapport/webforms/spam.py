"""Spam checks of the public form: a honeypot field, a minimum fill time measured from a
signed timestamp put in the page, and a per-address rate limit (accepted submissions and
refused attempts of the last window both count). Each refusal has a code and a sentence."""

import datetime
import time

from django.conf import settings
from django.core import signing
from django.utils import timezone

from rapport.webforms.models import FormSubmission, SubmissionRejection, WebForm

HONEYPOT = "hp_website"  # looks like a field a bot fills; hidden from people by CSS
STAMP = "_started"
_SALT = "rapport.webforms.started"
MAX_AGE = 86400  # a page older than a day is reloaded


class SpamRejected(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def rate_limit() -> tuple[int, int]:
    """(attempts, window in seconds) allowed per IP address across all forms."""
    return (
        int(getattr(settings, "RAPPORT_FORM_RATE_LIMIT", 5)),
        int(getattr(settings, "RAPPORT_FORM_RATE_WINDOW", 600)),
    )


def stamp(form: WebForm) -> str:
    """The signed "page shown at" value the page carries (bound to the form)."""
    return signing.dumps({"f": form.pk, "t": time.time()}, salt=_SALT)


def _reject(form: WebForm, ip: str | None, code: str, message: str, status: int = 400):
    SubmissionRejection.objects.create(
        form=form, ip_address=ip, reason=code, occurred_at=timezone.now()
    )
    return SpamRejected(code, message, status)


def check(form: WebForm, data, ip: str | None, now: float | None = None) -> None:
    """Raise SpamRejected (and remember the attempt) when the submission looks automated."""
    limit, window = rate_limit()
    if ip:
        since = timezone.now() - datetime.timedelta(seconds=window)
        recent = (
            FormSubmission.objects.filter(ip_address=ip, submitted_at__gte=since).count()
            + SubmissionRejection.objects.filter(ip_address=ip, occurred_at__gte=since).count()
        )
        if recent >= limit:
            raise SpamRejected(
                "rate_limited",
                f"Too many submissions from your network in the last {window // 60} minutes. "
                "Please try again later.",
                429,
            )
    if (data.get(HONEYPOT) or "").strip():
        raise _reject(
            form, ip, "honeypot", "The submission was refused: a hidden anti-spam field was filled."
        )
    try:
        started = signing.loads(data.get(STAMP) or "", salt=_SALT, max_age=MAX_AGE)
    except signing.SignatureExpired:
        raise _reject(
            form, ip, "expired", "This page was open too long. Reload it and send the form again."
        ) from None
    except signing.BadSignature:
        raise _reject(
            form, ip, "bad_stamp", "The form could not be verified. Reload the page and try again."
        ) from None
    if started.get("f") != form.pk:
        raise _reject(form, ip, "bad_stamp", "The form could not be verified. Reload the page.")
    elapsed = (now or time.time()) - float(started.get("t", 0))
    if elapsed < form.min_fill_seconds:
        raise _reject(
            form,
            ip,
            "too_fast",
            "The form was sent too quickly after the page opened. Wait a moment and send it again.",
        )
