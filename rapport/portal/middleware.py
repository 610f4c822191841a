"""Who is signed in to the portal (request.portal_user), and the wall around the CRM.

A request carrying a valid portal session and no staff session gets a 404 for every staff
page and API path: a portal user reaches the portal, the public signed links and static
files, nothing else (the authorisation matrix test walks every URL)."""

from django.http import Http404, JsonResponse

from rapport.portal import auth

# Paths a portal user may reach outside /portal/: static files, the health probe, the
# public pages anyone may open (consent and survey links, quote decisions, hosted web forms,
# the website tracking script and collector, campaign tracking) and the staff sign-in page.
OPEN_PREFIXES = (
    "/portal/",
    "/static/",
    "/health",
    "/s/",
    "/u/",
    "/q/",
    "/f/",
    "/wt/",
    "/t/",
    "/consent/confirm/",
    "/consent/preferences/",
    "/login/",
    "/favicon",
)


def current_portal_user(request):
    """The portal user of this request's portal cookie (cached on the request), or None."""
    if not hasattr(request, "_portal_user"):
        request._portal_user = auth.session_user(request.COOKIES.get(auth.PORTAL_COOKIE))
    return request._portal_user


class PortalMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        if (
            auth.PORTAL_COOKIE in request.COOKIES
            and not path.startswith(OPEN_PREFIXES)
            and not request.user.is_authenticated
            and current_portal_user(request) is not None
        ):
            if path.startswith("/api/"):
                return JsonResponse(
                    {"detail": "Not found", "code": "not_found", "field": None}, status=404
                )
            raise Http404("Not found")
        return self.get_response(request)
