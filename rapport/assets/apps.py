from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "rapport.assets"
    label = "assets"
    verbose_name = "Installed base"
