"""Pages of segments and lifecycle rules (namespace "segments")."""

from django.urls import path

from rapport.segments import views

app_name = "segments"

urlpatterns = [
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/new", views.segment_new, name="segment_new"),
    path("segments/builder", views.segment_builder, name="segment_builder"),
    path("segments/count", views.segment_count, name="segment_count"),
    path("segments/lifecycle", views.lifecycle_rules, name="lifecycle_rules"),
    path("segments/<int:pk>/", views.segment_detail, name="segment_detail"),
    path("segments/<int:pk>/edit", views.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/delete", views.segment_delete, name="segment_delete"),
    path("segments/<int:pk>/refresh", views.segment_refresh_now, name="segment_refresh"),
    path("segments/<int:pk>/members/add", views.segment_members_add, name="segment_members_add"),
    path(
        "segments/<int:pk>/members/import",
        views.segment_members_import,
        name="segment_members_import",
    ),
    path(
        "segments/<int:pk>/members/<int:contact_id>/remove",
        views.segment_member_remove,
        name="segment_member_remove",
    ),
    path(
        "segments/<int:pk>/export/<str:fmt>",
        views.segment_export,
        name="segment_export",
    ),
]
