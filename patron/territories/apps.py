from django.apps import AppConfig


class TerritoriesConfig(AppConfig):
    name = "patron.territories"
    label = "territories"
    verbose_name = "Territories"
