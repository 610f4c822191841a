from django.apps import AppConfig


class WebtrackConfig(AppConfig):
    name = "rapport.webtrack"
    label = "webtrack"
    verbose_name = "Web tracking (clickstream)"
