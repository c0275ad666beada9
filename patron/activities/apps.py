from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "patron.activities"
    label = "activities"
    verbose_name = "Activities"

    def ready(self) -> None:
        from patron.activities import calendar_sync
        from patron.activities.calendar_views import register_calendar_ui
        from patron.activities.models import Activity
        from patron.activities.search import register_search
        from patron.activities.selectors import (
            assignee_and_attendee_rule,
            explain_assignee_and_attendee,
            explain_linked_record,
            linked_record_rule,
        )
        from patron.activities.timeline import register_activities_timeline
        from patron.activities.views import register_ui
        from patron.core.visibility import register_visibility_rule

        register_visibility_rule(
            Activity, assignee_and_attendee_rule, explain_assignee_and_attendee
        )
        register_visibility_rule(Activity, linked_record_rule, explain_linked_record)
        register_activities_timeline()
        register_search()
        register_ui()
        calendar_sync.connect()
        register_calendar_ui()
        from patron.activities.quality import register_quality

        register_quality()
        from patron.activities.imports import register_imports

        register_imports()
