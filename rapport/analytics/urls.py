"""Pages of analytics (namespace "analytics")."""

from django.urls import path

from rapport.analytics import views
from rapport.analytics.sales import views as sales_views
from rapport.analytics.service import views as service_views

app_name = "analytics"

urlpatterns = [
    path("analytics/", views.overview, name="overview"),
    path("analytics/segments/", views.segments, name="segments"),
    path("analytics/cohorts/", views.cohorts, name="cohorts"),
    path("analytics/model-fit/", views.model_fit, name="model_fit"),
    path("analytics/at-risk/", views.at_risk, name="at_risk"),
    path("analytics/cross-sell/", views.cross_sell, name="cross_sell"),
    path("analytics/refresh", views.refresh, name="refresh"),
    path("analytics/runs/<int:pk>/", views.run_status, name="run_status"),
    path("analytics/settings/", views.settings_view, name="settings"),
    path("analytics/service/", service_views.service_dashboard, name="service"),
    path("analytics/sales/", sales_views.sales_dashboard, name="sales"),
]
