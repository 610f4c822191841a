from django.urls import path

from rapport.playbooks import views

app_name = "playbooks"

urlpatterns = [
    path("opportunity/<int:pk>/", views.card, name="card"),
    path("opportunity/<int:pk>/steps/<int:step_id>", views.toggle, name="toggle"),
]
