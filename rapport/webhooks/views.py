"""The inbound webhook endpoint: POST /hooks/in/<token> (no session, no CSRF: the token in
the URL, and optionally a signature, authenticate the sender)."""

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from rapport.webhooks.inbound import inbound_receive, source_for_token


def _error(status: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code, "field": None}, status=status)


@csrf_exempt
@require_POST
def inbound_hook(request, token: str):
    source = source_for_token(token)
    if source is None:
        return _error(404, "Unknown or inactive webhook URL", "not_found")
    content_type = request.content_type or ""
    if content_type != "application/json" and not content_type.endswith("+json"):
        return _error(415, "Send the event as application/json", "unsupported_media_type")
    cap = settings.RAPPORT_INBOUND_MAX_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > cap:
        return _error(413, f"The body is larger than {cap} bytes", "too_large")
    body = request.read(cap + 1)
    if len(body) > cap:
        return _error(413, f"The body is larger than {cap} bytes", "too_large")
    headers = {key.lower(): value for key, value in request.headers.items()}
    received = inbound_receive(source=source, body=body, headers=headers)
    return JsonResponse(received.body, status=received.status)
