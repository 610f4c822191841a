"""`Idempotency-Key` on API POSTs: the same key and body give the stored response again;
the same key with another body is a 409. Records live 24 hours."""

import datetime
import hashlib

from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from rapport.api.models import IdempotencyRecord
from rapport.identity.services import api_token_authenticate

TTL = datetime.timedelta(hours=24)


def _error(status: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code, "field": "Idempotency-Key"}, status=status)


def _request_user(request):
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return api_token_authenticate(auth[7:].strip())
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _request_digest(request) -> str:
    """What makes two requests "the same": the path and the JSON body. A file upload
    (multipart) is not read here — that would hold a 2 GB import in memory before the view
    streams it to disk — so its digest is the path and the body's length and type."""
    head = request.path.encode() + b"\n"
    if request.content_type == "multipart/form-data":
        size = request.META.get("CONTENT_LENGTH", "")
        return hashlib.sha256(head + f"multipart:{size}".encode()).hexdigest()
    return hashlib.sha256(head + request.body).hexdigest()


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or not request.path.startswith("/api/"):
            return self.get_response(request)
        if len(key) > 200:
            return _error(400, "Idempotency-Key must be at most 200 characters", "invalid_header")
        user = _request_user(request)
        if user is None:
            return self.get_response(request)  # the API answers 401 itself
        digest = _request_digest(request)
        IdempotencyRecord.objects.filter(
            user=user, key=key, created_at__lt=timezone.now() - TTL
        ).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    key=key, user=user, method="POST", path=request.path[:300], request_hash=digest
                )
        except IntegrityError:
            previous = IdempotencyRecord.objects.filter(user=user, key=key).first()
            if previous is None:
                return _error(
                    409,
                    "A request with this Idempotency-Key is in progress",
                    "idempotency_in_progress",
                )
            if previous.request_hash != digest:
                return _error(
                    409,
                    "This Idempotency-Key was used with another request",
                    "idempotency_key_reused",
                )
            if previous.status_code is None:
                return _error(
                    409,
                    "A request with this Idempotency-Key is in progress",
                    "idempotency_in_progress",
                )
            response = HttpResponse(
                bytes(previous.response_body or b""),
                status=previous.status_code,
                content_type="application/json",
            )
            response["Idempotent-Replayed"] = "true"
            return response
        response = self.get_response(request)
        if response.status_code >= 500 or response.status_code in (401, 409, 429):
            # Failures that a retry may cure are not remembered.
            record.delete()
        else:
            body = response.content if not getattr(response, "streaming", False) else b""
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                status_code=response.status_code, response_body=body
            )
        return response


def idempotency_purge() -> int:
    """Delete records older than 24 hours; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - TTL).delete()
    return deleted
