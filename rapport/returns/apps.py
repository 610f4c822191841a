from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    name = "rapport.returns"
    label = "returns"
    verbose_name = "Returns and complaints"
