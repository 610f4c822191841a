from django.urls import path

from rapport.surveys import views

app_name = "surveys"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("nps/", views.nps_surveys, name="nps"),
    path("nps/<int:pk>/send", views.nps_send_segment, name="nps_send"),
    path("nps/contact/<int:contact_id>/", views.nps_send_contact, name="nps_contact"),
]
