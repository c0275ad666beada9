from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "patron.core"
    label = "core"
    verbose_name = "Patron core"

    def ready(self) -> None:
        from patron.core.jobs import JobKind, register_job_kind
        from patron.core.record_pages import EXPORT_TASK
        from patron.core.timeline import register_change_log_source
        from patron.core.timeline_views import register_timeline_panel

        register_change_log_source()
        register_timeline_panel()
        register_job_kind(JobKind(kind=EXPORT_TASK, label="List export"))
