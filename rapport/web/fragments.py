"""Responses for htmx: a fragment plus the pending toasts, swapped out of band, so a
routine action confirms itself in place without a page reload."""

from django.http import HttpResponse
from django.template.loader import render_to_string


def render_fragment(request, template_name: str, context: dict | None = None, status: int = 200):
    """Render `template_name` and append the queued messages as an out-of-band toast swap."""
    body = render_to_string(template_name, context or {}, request=request)
    body += render_to_string("web/_toasts_oob.html", {}, request=request)
    return HttpResponse(body, status=status)


def is_htmx(request) -> bool:
    """A request made by htmx (and not a history restore, which wants the whole page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request
