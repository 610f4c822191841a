"""Pages of duplicates (namespace "duplicates")."""

from django.urls import path

from rapport.duplicates import views

app_name = "duplicates"

urlpatterns = [
    path("duplicates/", views.queue, name="queue"),
    path("duplicates/scan", views.scan, name="scan"),
    path("duplicates/<int:pk>/", views.pair_detail, name="pair_detail"),
    path("duplicates/<int:pk>/merge", views.pair_merge, name="pair_merge"),
    path("duplicates/<int:pk>/dismiss", views.pair_dismiss, name="pair_dismiss"),
    path("duplicates/<int:pk>/reopen", views.pair_reopen, name="pair_reopen"),
    path("duplicates/merges/", views.merge_history, name="merge_history"),
    path("duplicates/merges/<int:pk>/undo", views.merge_undo, name="merge_undo"),
]
