from django.urls import path

from patron.contacts import competitor_views, structure_views
from patron.contacts.channel_views import contact_channels_edit
from patron.contacts.related_list_views import related_list_urlpatterns
from patron.contacts.views import account_pages, contact_pages
from patron.core.record_pages import record_urlpatterns

app_name = "contacts"

urlpatterns = [
    *record_urlpatterns("accounts", account_pages),
    *record_urlpatterns("contacts", contact_pages),
    *record_urlpatterns("competitors", competitor_views.competitor_pages),
    path(
        "accounts/<int:pk>/competitors/add/",
        competitor_views.account_competitor_add,
        name="account_competitor_add",
    ),
    path(
        "accounts/<int:pk>/competitors/<int:link_pk>/edit/",
        competitor_views.account_competitor_update,
        name="account_competitor_update",
    ),
    path(
        "accounts/<int:pk>/competitors/<int:link_pk>/remove/",
        competitor_views.account_competitor_remove,
        name="account_competitor_remove",
    ),
    path("contacts/<int:pk>/channels/", contact_channels_edit, name="contact_channels"),
    *related_list_urlpatterns(),
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
