"""The tracking script and its collector (public, no session).

`/wt/t.js` is a static, CSP-friendly script the company puts on its site. `/wt/collect`
accepts page views with CORS for the allow-listed site domains only; a view is stored only
for a visitor identified by a valid signed token (`rpv`: from a tracked email click or a
form submission) who has opted in to the tracking purpose. Anonymous views are dropped."""

import json
from pathlib import Path
from urllib.parse import urlsplit

from django.core import signing
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from rapport.webforms.services import domain_allowed
from rapport.webtrack import identity, services

_SCRIPT = Path(__file__).parent / "static" / "webtrack" / "t.js"
MAX_BODY = 8192


def tracking_script(request):
    response = HttpResponse(_SCRIPT.read_bytes(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _origin_allowed(request) -> str | None:
    origin = request.META.get("HTTP_ORIGIN", "")
    host = urlsplit(origin).hostname or ""
    if origin and (domain_allowed(host) or host == request.get_host().split(":")[0]):
        return origin
    return None


def _cors(response, origin: str):
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Credentials"] = "true"
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    return response


def _error(detail: str, code: str, status: int, origin=None):
    response = JsonResponse({"detail": detail, "code": code, "field": None}, status=status)
    return _cors(response, origin) if origin else response


def _person(contact_id, lead_id):
    from rapport.accounts.models import Contact
    from rapport.leads.models import Lead

    if contact_id:
        return Contact.objects.filter(pk=contact_id).first()
    return Lead.objects.filter(pk=lead_id).first()


@csrf_exempt  # cross-site by design; nothing is read or written without a signed token
@require_http_methods(["POST", "OPTIONS"])
def collect(request):
    origin = _origin_allowed(request)
    if origin is None:
        return _error("This site is not allowed to send page views", "origin_not_allowed", 403)
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), origin)
    if len(request.body) > MAX_BODY:
        return _error("Too large", "too_large", 413, origin)
    try:
        body = json.loads(request.body or b"{}")
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        return _error("Send a JSON object", "bad_json", 400, origin)
    url = str(body.get("url") or "")
    if not domain_allowed(urlsplit(url).hostname or ""):
        return _error("The page is not on a tracked site", "url_not_allowed", 400, origin)
    token = str(body.get("rpv") or request.COOKIES.get("rpv") or "")
    if not token:
        # Anonymous page views are not stored (no identifier, no row).
        return _cors(JsonResponse({"stored": False, "reason": "anonymous"}, status=202), origin)
    try:
        contact_id, lead_id = identity.read_visitor_token(token)
    except signing.BadSignature:
        return _error("The visitor token is invalid or expired", "bad_visitor_token", 400, origin)
    person = _person(contact_id, lead_id)
    if person is None:
        return _cors(JsonResponse({"stored": False, "reason": "unknown"}, status=202), origin)
    if not services.tracking_allowed(person):
        return _cors(JsonResponse({"stored": False, "reason": "no_consent"}, status=202), origin)
    session = services.page_view_record(
        person=person,
        url=url,
        title=str(body.get("title") or ""),
        referrer=str(body.get("referrer") or ""),
    )
    return _cors(
        JsonResponse({"stored": True, "session": session.pk, "pages": session.page_count}),
        origin,
    )
