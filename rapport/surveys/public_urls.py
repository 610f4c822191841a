"""The public signed survey links (/s/…, no login)."""

from django.urls import path

from rapport.surveys import views

app_name = "survey_public"

urlpatterns = [
    path("<str:token>/<int:score>", views.answer, name="answer"),
    path("<str:token>", views.answer, name="answer_post"),
]
