from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "patron.core"
    label = "core"
    verbose_name = "Patron core"

    def ready(self) -> None:
        from patron.core.timeline import register_change_log_source
        from patron.core.timeline_views import register_timeline_panel

        register_change_log_source()
        register_timeline_panel()
