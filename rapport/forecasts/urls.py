"""Pages of forecasts (namespace "forecasts"): Analytics → Forecast and the quota grid."""

from django.urls import path

from rapport.forecasts import views

app_name = "forecasts"

urlpatterns = [
    path("analytics/forecast/", views.forecast_page, name="forecast"),
    path("analytics/forecast/commit", views.commit_submit, name="commit"),
    path("analytics/forecast/category/<int:pk>", views.category_set, name="category"),
    path("analytics/forecast/quotas/", views.quotas_page, name="quotas"),
]
