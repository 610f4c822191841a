from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "rapport.portal"
    label = "portal"
    verbose_name = "Customer portal"
