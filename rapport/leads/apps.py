from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "rapport.leads"
    label = "leads"
    verbose_name = "Leads"
