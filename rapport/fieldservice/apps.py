from django.apps import AppConfig


class FieldServiceConfig(AppConfig):
    name = "rapport.fieldservice"
    label = "fieldservice"
    verbose_name = "Field service"
