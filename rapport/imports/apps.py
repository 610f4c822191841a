from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "rapport.imports"
    label = "imports"
    verbose_name = "Imports"
