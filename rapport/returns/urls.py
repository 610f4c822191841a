from django.urls import path

from rapport.returns import views

app_name = "returns"

urlpatterns = [
    path("", views.return_list, name="list"),
    path("new/", views.return_new, name="new"),
    path("for/<str:object_type>/<int:pk>/", views.record_returns, name="record_returns"),
    path("metrics/", views.metrics, name="metrics"),
    path("<int:pk>/", views.return_detail, name="detail"),
    path("<int:pk>/move", views.return_move, name="move"),
]
