from django.apps import AppConfig


class WebformsConfig(AppConfig):
    name = "rapport.webforms"
    label = "webforms"
    verbose_name = "Web-to-lead forms"
