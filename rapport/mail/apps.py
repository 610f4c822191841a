from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "rapport.mail"
    label = "mail"
    verbose_name = "Email"
