from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "rapport.files"
    label = "files"
    verbose_name = "Files"
