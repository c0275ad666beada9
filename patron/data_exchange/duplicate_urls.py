from django.urls import URLPattern, path

from patron.data_exchange import duplicate_rule_views, duplicate_views

urlpatterns: list[URLPattern] = [
    path("data/duplicates/", duplicate_views.duplicate_list, name="duplicate_list"),
    path("data/duplicates/scan/", duplicate_views.duplicate_scan_start, name="duplicate_scan"),
    path("data/duplicates/merge/", duplicate_views.duplicate_merge, name="duplicate_merge"),
    path("data/duplicates/rules/", duplicate_rule_views.rule_list, name="duplicate_rules"),
    path("data/duplicates/rules/new/", duplicate_rule_views.rule_edit, name="duplicate_rule_new"),
    path(
        "data/duplicates/rules/<int:pk>/",
        duplicate_rule_views.rule_edit,
        name="duplicate_rule_edit",
    ),
    path(
        "data/duplicates/rules/<int:pk>/toggle/",
        duplicate_rule_views.rule_toggle,
        name="duplicate_rule_toggle",
    ),
    path(
        "data/duplicates/rules/<int:pk>/delete/",
        duplicate_rule_views.rule_delete,
        name="duplicate_rule_delete",
    ),
    path(
        "data/duplicates/<int:pk>/dismiss/",
        duplicate_views.duplicate_dismiss,
        name="duplicate_dismiss",
    ),
]
