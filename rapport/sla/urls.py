from django.urls import path

from rapport.sla import views

app_name = "sla"

urlpatterns = [
    path("case/<int:case_id>/panel/", views.case_panel, name="case_panel"),
    path("case/<int:case_id>/recompute/", views.case_recompute, name="case_recompute"),
]
