"""Settings pages (namespace "settings", under /settings/)."""

from django.urls import path

from rapport.web import settings_views as views

app_name = "settings"

urlpatterns = [
    path("", views.index, name="index"),
    path("users/", views.users, name="users"),
    path("users/new", views.user_create_view, name="user_create"),
    path("users/<int:pk>/deactivate", views.user_deactivate_view, name="user_deactivate"),
    path("users/<int:pk>/reactivate", views.user_reactivate_view, name="user_reactivate"),
    path("teams/", views.teams, name="teams"),
    path("teams/new", views.team_create_view, name="team_create"),
    path("teams/<int:pk>/", views.team_edit, name="team_edit"),
    path("roles/", views.roles, name="roles"),
    path("roles/<int:pk>", views.role_set, name="role_set"),
    path("sharing/", views.sharing, name="sharing"),
    path("sharing/<slug:object_type>", views.org_default_set_view, name="org_default_set"),
    path("pipelines/", views.pipelines, name="pipelines"),
    path("pipelines/new", views.pipeline_create_view, name="pipeline_create"),
    path("pipelines/<int:pk>/", views.pipeline, name="pipeline"),
    path("pipelines/<int:pk>/edit", views.pipeline_update_view, name="pipeline_update"),
    path("pipelines/<int:pk>/delete", views.pipeline_delete_view, name="pipeline_delete"),
    path("pipelines/<int:pk>/stages", views.stage_create_view, name="stage_create"),
    path(
        "pipelines/<int:pk>/stages/<int:stage_id>/edit",
        views.stage_update_view,
        name="stage_update",
    ),
    path("pipelines/<int:pk>/stages/<int:stage_id>/move", views.stage_move_view, name="stage_move"),
    path(
        "pipelines/<int:pk>/stages/<int:stage_id>/delete",
        views.stage_delete_view,
        name="stage_delete",
    ),
    path("custom-fields/", views.custom_fields, name="custom_fields"),
    path("custom-fields/new", views.custom_field_create, name="custom_field_create"),
    path(
        "custom-fields/<int:pk>/delete", views.custom_field_delete_view, name="custom_field_delete"
    ),
]
