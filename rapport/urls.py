from django.contrib import admin
from django.urls import path

from rapport.api.router import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
