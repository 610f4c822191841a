from django.apps import AppConfig


class MarketingConfig(AppConfig):
    name = "rapport.marketing"
    label = "marketing"
    verbose_name = "Marketing reports and journeys"
