"""Marketing pages (namespace "marketing")."""

from django.urls import path

from rapport.marketing import views

app_name = "marketing"

urlpatterns = [
    path("marketing/", views.index, name="index"),
    path("marketing/roi/", views.roi, name="roi"),
    path("marketing/attribution/", views.attribution_page, name="attribution"),
    path("marketing/journeys/", views.journeys_page, name="journeys"),
    path("marketing/journeys/preset/<slug:key>", views.journey_preset, name="journey_preset"),
]
