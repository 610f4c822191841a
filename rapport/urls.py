from django.contrib import admin
from django.db import connection
from django.http import JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found

from rapport.api.router import api
from rapport.campaigns.urls import tracking_patterns as campaign_tracking_patterns
from rapport.consent.urls import public_patterns as consent_public_patterns
from rapport.portal.urls import staff_patterns as portal_staff_patterns
from rapport.quotes.urls import public_patterns as quotes_public_patterns
from rapport.webforms.urls import public_patterns as webforms_public_patterns
from rapport.webtrack.urls import public_patterns as webtrack_public_patterns


def health(request):
    """Load-balancer probe: the app answers and its database too."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", include("rapport.web.urls")),
    path("health", health, name="health"),
    path("mail/", include("rapport.mail.urls")),
    path("cases/", include("rapport.cases.urls")),
    path("knowledge/", include("rapport.knowledge.urls")),
    path("", include("rapport.consent.urls")),
    path("", include((consent_public_patterns, "consent_public"))),
    path("", include((webforms_public_patterns, "webforms_public"))),
    path("", include((webtrack_public_patterns, "webtrack"))),
    path("", include("rapport.webforms.urls")),
    path("", include("rapport.marketing.urls")),
    path("sla/", include("rapport.sla.urls")),
    path("quotes/", include("rapport.quotes.urls")),
    path("playbooks/", include("rapport.playbooks.urls")),
    path("sequences/", include("rapport.sequences.urls")),
    path("", include("rapport.forecasts.urls")),
    path("", include((quotes_public_patterns, "quotes_public"))),
    path("", include("rapport.assets.urls")),
    path("", include("rapport.fieldservice.urls")),
    path("portal/", include("rapport.portal.urls")),
    path("portal-admin/", include((portal_staff_patterns, "portal_staff"))),
    path("surveys/", include("rapport.surveys.urls")),
    path("s/", include("rapport.surveys.public_urls")),
    path("returns/", include("rapport.returns.urls")),
    path("campaigns/", include("rapport.campaigns.urls")),
    path("", include((campaign_tracking_patterns, "campaign_tracking"))),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("rapport.webhooks.urls")),
]


def not_found(request, exception=None):
    """API clients get the API's JSON error shape for unknown URLs too."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found", "code": "not_found", "field": None}, status=404)
    return page_not_found(request, exception)


handler404 = not_found
