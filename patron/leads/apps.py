from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "patron.leads"
    label = "leads"
    verbose_name = "Leads"
