from django.apps import AppConfig


class TerritoriesConfig(AppConfig):
    name = "patron.territories"
    label = "territories"
    verbose_name = "Territories"

    def ready(self) -> None:
        from patron.core.context_processors import NavItem, register_nav_item
        from patron.core.jobs import JobKind, register_job_kind
        from patron.territories.accounts import register_accounts
        from patron.territories.panels import register_territory_panels
        from patron.territories.services import ASSIGN_JOB_KIND, connect

        connect()
        register_territory_panels()
        register_accounts()
        register_job_kind(JobKind(kind=ASSIGN_JOB_KIND, label="Territory assignment run"))
        register_nav_item(
            NavItem(area="Sales", label="Territories", url_name="territories:models", order=28)
        )
