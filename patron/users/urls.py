from django.urls import path

from patron.users import admin_views, views

app_name = "users"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/verify/", views.login_verify, name="login_verify"),
    path("logout/", views.logout_view, name="logout"),
    path("settings/", views.settings_view, name="settings"),
    path("settings/profile/", views.profile_update, name="profile_update"),
    path("settings/password/", views.password_change, name="password_change"),
    path("settings/tokens/", views.token_create, name="token_create"),
    path("settings/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("settings/two-factor/", views.two_factor, name="two_factor"),
    path("settings/two-factor/disable/", views.two_factor_disable, name="two_factor_disable"),
    path("admin-area/", admin_views.index, name="admin_index"),
    path("admin-area/users/", admin_views.user_list, name="admin_users"),
    path("admin-area/users/new/", admin_views.user_create, name="admin_user_create"),
    path("admin-area/users/<int:pk>/", admin_views.user_edit, name="admin_user_edit"),
    path(
        "admin-area/users/<int:pk>/password/",
        admin_views.user_password_reset,
        name="admin_user_password",
    ),
    path("admin-area/teams/", admin_views.team_list, name="admin_teams"),
    path("admin-area/teams/new/", admin_views.team_edit, name="admin_team_create"),
    path("admin-area/teams/<int:pk>/", admin_views.team_edit, name="admin_team_edit"),
    path("admin-area/roles/", admin_views.role_list, name="admin_roles"),
    path("admin-area/roles/new/", admin_views.role_edit, name="admin_role_create"),
    path("admin-area/roles/<int:pk>/", admin_views.role_edit, name="admin_role_edit"),
    path(
        "admin-area/roles/<int:pk>/permissions/",
        admin_views.role_permissions,
        name="admin_role_permissions",
    ),
    path(
        "admin-area/roles/<int:pk>/field-security/",
        admin_views.role_field_security,
        name="admin_role_fields",
    ),
    path("admin-area/org-wide-defaults/", admin_views.org_defaults, name="admin_org_defaults"),
    path("admin-area/custom-fields/", admin_views.custom_field_list, name="admin_custom_fields"),
    path(
        "admin-area/custom-fields/new/",
        admin_views.custom_field_edit,
        name="admin_custom_field_create",
    ),
    path(
        "admin-area/custom-fields/<int:pk>/",
        admin_views.custom_field_edit,
        name="admin_custom_field_edit",
    ),
    path(
        "admin-area/custom-fields/<int:pk>/deactivate/",
        admin_views.custom_field_deactivate,
        name="admin_custom_field_deactivate",
    ),
    path("admin-area/organisation/", admin_views.organisation, name="admin_organisation"),
    path("admin-area/security-log/", admin_views.security_log, name="admin_security_log"),
]
