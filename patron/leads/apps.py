from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "patron.leads"
    label = "leads"
    verbose_name = "Leads"

    def ready(self) -> None:
        from patron.leads.exports import register_exports
        from patron.leads.policy_views import register_lead_policy
        from patron.leads.search import register_search
        from patron.leads.timeline import register_lead_timeline
        from patron.leads.views import register_ui
        from patron.leads.visibility import register_lead_visibility

        register_exports()
        register_search()
        register_lead_timeline()
        register_lead_visibility()
        register_ui()
        register_lead_policy()
        from patron.leads.imports import register_imports

        register_imports()
        from patron.leads.quality import register_quality

        register_quality()
