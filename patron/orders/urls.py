from django.urls import path

from patron.core.record_pages import record_urlpatterns
from patron.orders import pricebook_views, quote_views, views

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
    *record_urlpatterns("quotes", quote_views.quote_pages),
    path("quotes/<int:pk>/lines/", quote_views.quote_line_add, name="quote_line_add"),
    path(
        "quotes/<int:pk>/lines/<int:line_pk>/edit/",
        quote_views.quote_line_update,
        name="quote_line_update",
    ),
    path(
        "quotes/<int:pk>/lines/<int:line_pk>/remove/",
        quote_views.quote_line_remove,
        name="quote_line_remove",
    ),
    path("quotes/<int:pk>/submit/", quote_views.quote_submit, name="quote_submit"),
    path("quotes/<int:pk>/approve/", quote_views.quote_approve, name="quote_approve"),
    path("quotes/<int:pk>/reject/", quote_views.quote_reject, name="quote_reject"),
    path("quotes/<int:pk>/send/", quote_views.quote_send, name="quote_send"),
    path("quotes/<int:pk>/sync/", quote_views.quote_sync, name="quote_sync"),
    path("quotes/<int:pk>/pdf/", quote_views.quote_pdf_view, name="quote_pdf"),
    path("quotes/<int:pk>/tco/", quote_views.quote_tco_add, name="quote_tco_add"),
    path(
        "quotes/<int:pk>/tco/<int:item_pk>/remove/",
        quote_views.quote_tco_remove,
        name="quote_tco_remove",
    ),
    path(
        "quotes/<int:pk>/tco/settings/",
        quote_views.quote_tco_settings,
        name="quote_tco_settings",
    ),
    path("q/<str:token>/", quote_views.quote_public, name="quote_public"),
    path("admin-area/quote-rules/", quote_views.quote_policy_edit, name="quote_policy"),
]
