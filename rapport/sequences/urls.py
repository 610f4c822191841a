"""Sequence pages (namespace "sequences", under /sequences/)."""

from django.urls import path

from rapport.sequences import views

app_name = "sequences"

urlpatterns = [
    path("", views.sequence_list, name="list"),
    path("new/", views.sequence_form, name="new"),
    path("<int:pk>/", views.sequence_detail, name="detail"),
    path("<int:pk>/edit/", views.sequence_form, name="edit"),
    path("for/<str:object_type>/<int:pk>/", views.person_card, name="person_card"),
    path("for/<str:object_type>/<int:pk>/enrol", views.person_enrol, name="person_enrol"),
    path("enrolments/<int:pk>/<str:action>", views.enrolment_action, name="enrolment_action"),
]
