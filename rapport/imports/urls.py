"""The import pages, under /imports/ (namespace "imports")."""

from django.urls import path

from rapport.imports import views

app_name = "imports"

urlpatterns = [
    path("imports/", views.import_list, name="import_list"),
    path("imports/new", views.import_new, name="import_new"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/mapping", views.import_mapping, name="import_mapping"),
    path("imports/<int:pk>/mapping/apply", views.import_mapping_apply, name="import_mapping_apply"),
    path("imports/<int:pk>/reading", views.import_reading, name="import_reading"),
    path("imports/<int:pk>/reread", views.import_reread, name="import_reread"),
    path("imports/<int:pk>/start", views.import_start, name="import_start"),
    path("imports/<int:pk>/progress", views.import_progress, name="import_progress"),
    path("imports/<int:pk>/cancel", views.import_cancel, name="import_cancel"),
    path("imports/<int:pk>/errors", views.import_errors, name="import_errors"),
    path("imports/<int:pk>/rejected.csv", views.import_rejected_csv, name="import_rejected_csv"),
]
