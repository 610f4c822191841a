from django.contrib import admin
from django.db import connection
from django.http import JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found

from rapport.api.router import api


def health(request):
    """Load-balancer probe: the app answers and its database too."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", include("rapport.web.urls")),
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]


def not_found(request, exception=None):
    """API clients get the API's JSON error shape for unknown URLs too."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found", "code": "not_found", "field": None}, status=404)
    return page_not_found(request, exception)


handler404 = not_found
