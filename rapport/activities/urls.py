"""Pages of activities (namespace "activities"): my tasks, the list, the calendar, the
activity page and its form."""

from django.urls import path

from rapport.activities import views
from rapport.records.services import require_writer
from rapport.web.decorators import allowed_by

app_name = "activities"

urlpatterns = [
    path("activities/", views.my_tasks, name="tasks"),
    path("activities/all/", views.activity_list_view, name="activity_list"),
    path("activities/all/export.csv", views.activity_export_view, name="activity_export"),
    path("activities/all/bulk", views.activity_bulk_view, name="activity_bulk"),
    path("activities/calendar/", views.calendar_view, name="calendar"),
    path(
        "activities/new", allowed_by(require_writer)(views.activity_create), name="activity_create"
    ),
    path("activities/<int:pk>/", views.activity_detail, name="activity_detail"),
    path("activities/<int:pk>/edit", views.activity_edit, name="activity_edit"),
    path("activities/<int:pk>/delete", views.activity_delete_view, name="activity_delete"),
    path("activities/<int:pk>/complete", views.activity_complete_view, name="activity_complete"),
    path("activities/<int:pk>/reopen", views.activity_reopen_view, name="activity_reopen"),
]
