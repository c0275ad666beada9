"""Calendar pages and the subscription feed (included by config.urls at the root)."""

from django.urls import path

from patron.activities import calendar_views

app_name = "calendar"
urlpatterns = [
    path("calendar/", calendar_views.my_calendar, name="mine"),
    path("calendar/team/", calendar_views.team_calendar, name="team"),
    path("calendar/import/", calendar_views.import_ics, name="import"),
    path("calendar/subscription/", calendar_views.feed_reset, name="feed_reset"),
    path("calendar/subscription/delete/", calendar_views.feed_delete, name="feed_delete"),
    path("calendar/reminders/<int:pk>/", calendar_views.reminders_update, name="reminders_update"),
    path("calendar/feed/<str:token>.ics", calendar_views.feed, name="feed"),
]
