from django.urls import URLPattern, path

from patron.contacts import structure_views
from patron.contacts.channel_views import contact_channels_edit
from patron.contacts.views import RecordPages, account_pages, contact_pages, page_views

app_name = "contacts"


def _patterns(prefix: str, key: str, pages: RecordPages) -> list[URLPattern]:
    views = page_views(pages)
    return [
        path(f"{prefix}/", views["list"], name=f"{key}_list"),
        path(f"{prefix}/new/", views["create"], name=f"{key}_create"),
        path(f"{prefix}/bulk/", views["bulk"], name=f"{key}_bulk"),
        path(f"{prefix}/export/", views["export"], name=f"{key}_export"),
        path(f"{prefix}/views/", views["save_view"], name=f"{key}_save_view"),
        path(
            f"{prefix}/views/<int:view_pk>/delete/",
            views["delete_view"],
            name=f"{key}_delete_view",
        ),
        path(f"{prefix}/<int:pk>/", views["detail"], name=f"{key}_detail"),
        path(f"{prefix}/<int:pk>/edit/", views["edit"], name=f"{key}_edit"),
        path(f"{prefix}/<int:pk>/delete/", views["delete"], name=f"{key}_delete"),
    ]


urlpatterns = [
    *_patterns("accounts", "account", account_pages),
    *_patterns("contacts", "contact", contact_pages),
    path("contacts/<int:pk>/channels/", contact_channels_edit, name="contact_channels"),
    path(
        "accounts/<int:pk>/team/add/",
        structure_views.account_team_add,
        name="account_team_add",
    ),
    path(
        "accounts/<int:pk>/team/<int:member_pk>/edit/",
        structure_views.account_team_update,
        name="account_team_update",
    ),
    path(
        "accounts/<int:pk>/team/<int:member_pk>/remove/",
        structure_views.account_team_remove,
        name="account_team_remove",
    ),
    path("accounts/<int:pk>/relations/new/", structure_views.relation_add, name="relation_add"),
    path(
        "accounts/<int:pk>/relations/<int:relation_pk>/edit/",
        structure_views.relation_edit,
        name="relation_edit",
    ),
    path(
        "accounts/<int:pk>/relations/<int:relation_pk>/end/",
        structure_views.relation_end,
        name="relation_end",
    ),
    path(
        "accounts/<int:pk>/relations/<int:relation_pk>/remove/",
        structure_views.relation_remove,
        name="relation_remove",
    ),
    path(
        "accounts/<int:pk>/org-chart/",
        structure_views.account_org_chart,
        name="account_org_chart",
    ),
]
