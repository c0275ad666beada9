from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "patron.routing"
    label = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from patron.routing.views import register_routing_ui

        register_routing_ui()
