from django.urls import path

from rapport.returns import views

app_name = "returns"

urlpatterns = [
    path("", views.return_list, name="list"),
    path("metrics/", views.metrics, name="metrics"),
    path("<int:pk>/", views.return_detail, name="detail"),
    path("<int:pk>/move", views.return_move, name="move"),
]
