from django.urls import path

from patron.core.record_pages import record_urlpatterns
from patron.orders import pricebook_views, views

app_name = "orders"

urlpatterns = [
    *record_urlpatterns("products", views.product_pages),
    path("price-books/", pricebook_views.price_book_list, name="price_book_list"),
    path("price-books/new/", pricebook_views.price_book_create, name="price_book_create"),
    path("price-books/<int:pk>/", pricebook_views.price_book_detail, name="price_book_detail"),
    path(
        "price-books/<int:pk>/prices/",
        pricebook_views.price_book_entry_set,
        name="price_book_entry_set",
    ),
    path(
        "price-books/<int:pk>/prices/<int:entry_pk>/remove/",
        pricebook_views.price_book_entry_remove,
        name="price_book_entry_remove",
    ),
    path(
        "opportunities/<int:pk>/line-items/add/",
        views.line_item_add,
        name="line_item_add",
    ),
    path(
        "opportunities/<int:pk>/line-items/<int:line_pk>/edit/",
        views.line_item_update,
        name="line_item_update",
    ),
    path(
        "opportunities/<int:pk>/line-items/<int:line_pk>/remove/",
        views.line_item_remove,
        name="line_item_remove",
    ),
    path(
        "opportunities/<int:pk>/line-items/sync-amount/",
        views.line_items_sync_amount,
        name="line_items_sync_amount",
    ),
]
