from django.apps import AppConfig


class QuotesConfig(AppConfig):
    name = "rapport.quotes"
    label = "quotes"
    verbose_name = "Quotes"
