from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "patron.pipeline"
    label = "pipeline"
    verbose_name = "Pipeline"

    def ready(self) -> None:
        from patron.pipeline.playbook_views import register_playbooks
        from patron.pipeline.related_selectors import register_visibility_rules
        from patron.pipeline.related_views import register_related_panels
        from patron.pipeline.rollups import register_pipeline_rollups
        from patron.pipeline.timeline import register_opportunity_timeline

        register_playbooks()
        register_visibility_rules()
        register_related_panels()
        register_pipeline_rollups()
        register_opportunity_timeline()
        from patron.pipeline.exports import register_exports
        from patron.pipeline.search import register_search
        from patron.pipeline.views import register_ui

        register_exports()
        register_search()
        register_ui()
        from patron.pipeline.forecast_views import register_forecast_ui

        register_forecast_ui()
        from patron.pipeline.analytics_views import register_analytics_nav

        register_analytics_nav()
        from patron.pipeline.lead_conversion import register_lead_conversion
        from patron.pipeline.territory_forecasts import register_territory_forecasts

        register_lead_conversion()
        register_territory_forecasts()
        from patron.pipeline.imports import register_imports

        register_imports()
        from patron.pipeline.quality import register_quality

        register_quality()
        from patron.core.context_processors import NavItem, register_nav_item

        register_nav_item(
            NavItem(
                area="Sales",
                label="Pipeline board",
                url_name="pipeline:board",
                object_type="pipeline.opportunity",
                order=20,
            )
        )
