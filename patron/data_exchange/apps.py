from django.apps import AppConfig


class DataExchangeConfig(AppConfig):
    name = "patron.data_exchange"
    label = "data_exchange"
    verbose_name = "Data management"

    def ready(self) -> None:
        # Each part (imports, duplicates, privacy, backup, data quality) registers its pages,
        # job kinds and guards here, from its own setup module.
        from patron.data_exchange import duplicate_setup

        duplicate_setup.register()

        from patron.data_exchange import privacy_setup

        privacy_setup.register()

        from patron.data_exchange import import_setup

        import_setup.register()

        from patron.data_exchange import quality_setup

        quality_setup.register()
