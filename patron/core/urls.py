from django.urls import path

from patron.core import health, notification_views, search_views, views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("search/", search_views.global_search, name="search"),
    path("notifications/", notification_views.notifications, name="notifications"),
    path(
        "notifications/badge/", notification_views.notification_badge, name="notification_badge"
    ),
    path(
        "notifications/<int:pk>/read/",
        notification_views.notification_read,
        name="notification_read",
    ),
    path(
        "notifications/read-all/",
        notification_views.notification_read_all,
        name="notifications_read_all",
    ),
]
