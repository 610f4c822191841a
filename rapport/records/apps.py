from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "rapport.records"
    label = "records"
    verbose_name = "Records: sharing, tags, custom fields"
