from django.contrib import admin
from django.http import JsonResponse
from django.urls import path
from django.views.defaults import page_not_found

from rapport.api.router import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]


def not_found(request, exception=None):
    """API clients get the API's JSON error shape for unknown URLs too."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found", "code": "not_found", "field": None}, status=404)
    return page_not_found(request, exception)


handler404 = not_found
