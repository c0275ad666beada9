from django.urls import URLPattern, URLResolver, path

from patron.automation import webhook_views as views

app_name = "webhooks"

urlpatterns: list[URLPattern | URLResolver] = [
    path("automation/webhooks/", views.subscription_list, name="list"),
    path("automation/webhooks/new/", views.subscription_edit, name="create"),
    path("automation/webhooks/allowed-hosts/", views.allowed_hosts, name="allowed_hosts"),
    path(
        "automation/webhooks/allowed-hosts/<int:pk>/delete/",
        views.allowed_host_delete,
        name="allowed_host_delete",
    ),
    path("automation/webhooks/<int:pk>/", views.subscription_detail, name="detail"),
    path("automation/webhooks/<int:pk>/edit/", views.subscription_edit, name="edit"),
    path("automation/webhooks/<int:pk>/test/", views.subscription_test, name="test"),
    path("automation/webhooks/<int:pk>/enable/", views.subscription_enable, name="enable"),
    path(
        "automation/webhooks/<int:pk>/rotate-secret/",
        views.subscription_rotate_secret,
        name="rotate_secret",
    ),
    path("automation/webhooks/<int:pk>/delete/", views.subscription_delete, name="delete"),
    path(
        "automation/webhooks/deliveries/<int:pk>/resend/",
        views.delivery_resend,
        name="delivery_resend",
    ),
]
