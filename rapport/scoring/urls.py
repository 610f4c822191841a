from django.urls import path

from rapport.scoring import views

app_name = "scoring"

urlpatterns = [
    path("scoring/", views.scoring_page, name="page"),
    path("scoring/retrain", views.scoring_retrain, name="retrain"),
    path("scoring/rules/<int:pk>/delete", views.scoring_rule_delete, name="rule_delete"),
]
