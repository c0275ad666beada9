from django.urls import URLPattern, URLResolver, path

from patron.routing import views

app_name = "routing"

urlpatterns: list[URLPattern | URLResolver] = [
    path("routing/", views.pool_list, name="pool_list"),
    path("routing/pools/new/", views.pool_edit, name="pool_create"),
    path("routing/pools/<int:pk>/", views.pool_detail, name="pool_detail"),
    path("routing/pools/<int:pk>/edit/", views.pool_edit, name="pool_edit"),
    path("routing/pools/<int:pk>/delete/", views.pool_delete, name="pool_delete"),
    path("routing/pools/<int:pk>/members/", views.member_add, name="member_add"),
    path("routing/members/<int:pk>/pause/", views.member_pause, name="member_pause"),
    path("routing/members/<int:pk>/capacity/", views.member_capacity, name="member_capacity"),
    path("routing/members/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path("routing/members/<int:pk>/skills/", views.skill_add, name="skill_add"),
    path("routing/skills/<int:pk>/remove/", views.skill_remove, name="skill_remove"),
    path("routing/queues/", views.queue_list, name="queue_list"),
    path("routing/queues/<int:pk>/", views.queue_list, name="queue_edit"),
    path("routing/queues/<int:pk>/delete/", views.queue_delete, name="queue_delete"),
    path("routing/rules/", views.rule_list, name="rule_list"),
    path("routing/rules/new/", views.rule_edit, name="rule_create"),
    path("routing/rules/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("routing/rules/<int:pk>/shift/", views.rule_shift, name="rule_shift"),
    path("routing/rules/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    path("routing/log/", views.decision_log, name="decision_log"),
    path("routing/log/export.csv", views.decision_log_csv, name="decision_log_csv"),
    path("routing/availability/", views.my_availability, name="my_availability"),
    path(
        "routing/items/<str:object_type>/<int:pk>/reassign/",
        views.item_reassign,
        name="item_reassign",
    ),
]
