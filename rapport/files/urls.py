from django.urls import path

from rapport.files import views

app_name = "files"

urlpatterns = [
    path(
        "records/<slug:object_type>/<int:pk>/files",
        views.record_files_view,
        name="record_files",
    ),
    path(
        "records/<slug:object_type>/<int:pk>/files/<int:file_id>/delete",
        views.record_file_delete_view,
        name="record_file_delete",
    ),
    path(
        "records/<slug:object_type>/<int:pk>/files/<int:file_id>/restore",
        views.record_file_restore_view,
        name="record_file_restore",
    ),
    path("files/<int:pk>/download", views.file_download, name="file_download"),
]
