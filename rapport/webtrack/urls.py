"""Public web tracking endpoints (namespace "webtrack")."""

from django.urls import path

from rapport.webtrack import views

public_patterns = [
    path("wt/t.js", views.tracking_script, name="script"),
    path("wt/collect", views.collect, name="collect"),
]
