from django.urls import path

from patron.core.record_pages import record_urlpatterns
from patron.pipeline import (
    admin_views,
    analytics_views,
    board_views,
    forecast_views,
    playbook_views,
    related_views,
)
from patron.pipeline.views import opportunity_move, opportunity_pages

app_name = "pipeline"

urlpatterns = [
    *record_urlpatterns("opportunities", opportunity_pages),
    path("opportunities/<int:pk>/move/", opportunity_move, name="opportunity_move"),
    *related_views.urlpatterns,
    *admin_views.urlpatterns,
    *playbook_views.urlpatterns,
    *forecast_views.urlpatterns,
    *analytics_views.urlpatterns,
    path("opportunities/board/", board_views.board_page, name="board"),
    path("opportunities/board/move/", board_views.board_move, name="board_move"),
    path("opportunities/board/<int:pipeline_id>/", board_views.board_page, name="board"),
    path(
        "opportunities/board/<int:pipeline_id>/stages/<int:stage_id>/",
        board_views.board_column,
        name="board_column",
    ),
]
