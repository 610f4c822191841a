"""Campaign pages (namespace "campaigns") and the public tracking links (namespace
"campaign_tracking", no login)."""

from django.urls import path, re_path

from rapport.campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new", views.campaign_new, name="new"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit", views.campaign_edit, name="edit"),
    path("<int:pk>/start", views.campaign_start, name="start"),
    path("<int:pk>/pause", views.campaign_pause, name="pause"),
    path("<int:pk>/resume", views.campaign_resume, name="resume"),
    path("<int:pk>/cancel", views.campaign_cancel, name="cancel"),
    path("<int:pk>/winner", views.campaign_winner, name="winner"),
    path("<int:pk>/recipients", views.campaign_recipients, name="recipients"),
    path("<int:pk>/export.csv", views.campaign_export, name="export"),
]

tracking_patterns = [
    re_path(r"^t/o/(?P<token>[^/]+)\.gif$", views.track_open, name="open"),
    path("t/c/<str:token>", views.track_click, name="click"),
]
