"""Pages of territories and assignment rules (namespace "territories")."""

from django.urls import path

from rapport.territories import views

app_name = "territories"

urlpatterns = [
    path("territories/", views.territory_list, name="list"),
    path("territories/realignment/preview", views.realignment_preview, name="preview"),
    path("territories/realignment/run", views.realignment_start, name="realign"),
    path("territories/realignment/<int:pk>", views.realignment_status, name="realignment"),
    path("territories/assignment/", views.assignment_rules, name="assignment"),
    path(
        "territories/assignment/<int:pk>/delete",
        views.assignment_rule_delete,
        name="assignment_delete",
    ),
    path("territories/<int:pk>/", views.territory_detail, name="detail"),
    path("territories/<int:pk>/delete", views.territory_delete, name="delete"),
]
