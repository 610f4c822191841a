from django.apps import AppConfig


class ForecastsConfig(AppConfig):
    name = "rapport.forecasts"
    label = "forecasts"
    verbose_name = "Forecasts and quotas"
