from django.urls import path

from rapport.surveys import views

app_name = "surveys"

urlpatterns = [path("", views.dashboard, name="dashboard")]
