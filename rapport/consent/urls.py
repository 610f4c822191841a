"""Consent pages: staff pages (namespace "consent") and the public signed-link pages
(namespace "consent_public", no login)."""

from django.urls import path

from rapport.consent import views

app_name = "consent"

urlpatterns = [
    path("consent/<str:kind>/<int:pk>/record", views.record_consent, name="record_consent"),
]

public_patterns = [
    path("consent/confirm/<str:token>", views.confirm, name="confirm"),
    path("u/<str:token>", views.unsubscribe, name="unsubscribe"),
    path("consent/preferences/<str:token>", views.preferences, name="preferences"),
]
