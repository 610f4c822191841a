from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "rapport.scoring"
    label = "scoring"
    verbose_name = "Lead scoring and win probability"
