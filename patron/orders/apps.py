from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "patron.orders"
    label = "orders"
    verbose_name = "Products and quotes"

    def ready(self) -> None:
        from patron.orders.purchase_history import register_purchase_history
        from patron.orders.quote_timeline import register_quote_timeline
        from patron.orders.quote_views import register_quotes_ui
        from patron.orders.search import register_search
        from patron.orders.views import register_orders_ui

        register_orders_ui()
        register_search()
        register_purchase_history()
        from patron.orders.analytics_dimensions import register_analytics_dimensions

        register_analytics_dimensions()
        register_quotes_ui()
        register_quote_timeline()
        from patron.orders.imports import register_imports

        register_imports()
