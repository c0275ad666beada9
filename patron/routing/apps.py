from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "patron.routing"
    label = "routing"
    verbose_name = "Routing"
