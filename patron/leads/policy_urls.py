from django.urls import URLPattern, URLResolver, path

from patron.leads import policy_views, scoring_views

app_name = "lead_policy"

urlpatterns: list[URLPattern | URLResolver] = [
    path("leads/at-risk/", policy_views.at_risk_page, name="at_risk"),
    path("leads/at-risk/export/", policy_views.at_risk_export, name="at_risk_export"),
    path("leads/at-risk/views/", policy_views.at_risk_save_view, name="at_risk_save_view"),
    path(
        "leads/at-risk/views/<int:view_pk>/delete/",
        policy_views.at_risk_delete_view,
        name="at_risk_delete_view",
    ),
    path("admin-area/lead-settings/", policy_views.settings_page, name="settings"),
    path("admin-area/lead-scoring/", scoring_views.scoring_page, name="scoring"),
    path(
        "admin-area/lead-scoring/rules/new/",
        scoring_views.scoring_rule_edit,
        name="scoring_rule_create",
    ),
    path(
        "admin-area/lead-scoring/rules/<int:pk>/",
        scoring_views.scoring_rule_edit,
        name="scoring_rule_edit",
    ),
    path(
        "admin-area/lead-scoring/rules/<int:pk>/delete/",
        scoring_views.scoring_rule_remove,
        name="scoring_rule_delete",
    ),
    path("admin-area/lead-scoring/refit/", scoring_views.scoring_refit, name="scoring_refit"),
]
