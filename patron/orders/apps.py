from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "patron.orders"
    label = "orders"
    verbose_name = "Products and quotes"

    def ready(self) -> None:
        from patron.orders.purchase_history import register_purchase_history
        from patron.orders.search import register_search
        from patron.orders.views import register_orders_ui

        register_orders_ui()
        register_search()
        register_purchase_history()
