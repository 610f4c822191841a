"""Service desk pages (namespace "cases", under /cases/)."""

from django.urls import path

from rapport.cases import views

app_name = "cases"

urlpatterns = [
    path("", views.workspace, name="workspace"),
    path("new", views.case_new, name="new"),
    path("bulk", views.bulk, name="bulk"),
    path("agent-status", views.agent_status, name="agent_status"),
    path("configure/", views.configure, name="configure"),
    path("configure/<str:kind>/<int:pk>/", views.configure_edit, name="configure_edit"),
    path("configure/<str:kind>/<int:pk>/delete", views.configure_delete, name="configure_delete"),
    path(
        "configure/rules/<int:pk>/<str:direction>",
        views.configure_rule_move,
        name="configure_rule_move",
    ),
    path("for/<str:object_type>/<int:pk>/", views.record_cases, name="record_cases"),
    path("for/account/<int:pk>/tier", views.account_tier, name="account_tier"),
    path("<int:pk>/", views.case_detail, name="detail"),
    path("<int:pk>/entries", views.case_entries_older, name="entries_older"),
    path("<int:pk>/controls", views.case_controls, name="controls"),
    path("<int:pk>/compose", views.case_compose, name="compose"),
    path("<int:pk>/asset", views.case_asset, name="asset"),
    path("<int:pk>/tier", views.case_tier, name="tier"),
    path("<int:pk>/attachments/<int:file_id>", views.case_attachment, name="attachment"),
    path("<int:pk>/macro-preview", views.macro_preview, name="macro_preview"),
    path("<int:pk>/merge", views.case_merge, name="merge"),
    path("<int:pk>/split/<int:entry_id>", views.case_split, name="split"),
]
