"""Pages of the installed base (namespace "assets")."""

from django.urls import path

from rapport.assets import views
from rapport.records.services import require_writer
from rapport.web.decorators import allowed_by

app_name = "assets"

urlpatterns = [
    path("assets/", views.asset_list, name="asset_list"),
    path("assets/new", allowed_by(require_writer)(views.asset_create_view), name="asset_create"),
    path("assets/<int:pk>/", views.asset_detail, name="asset_detail"),
    path("assets/<int:pk>/edit", views.asset_edit, name="asset_edit"),
    path("assets/for/<str:object_type>/<int:pk>/", views.record_assets, name="record_assets"),
]
