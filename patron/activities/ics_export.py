"""The activities list as an iCalendar file: its appointments as VEVENTs and its tasks as
VTODOs, with the list's filters and sort, limited to what the user may export (calls, notes
and emails have no calendar form and are left out). Recorded in the security log."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from patron.activities.choices import ActivityKind
from patron.activities.ics import CONTENT_TYPE, feed_ics, with_calendar_parts, zone_of
from patron.activities.models import Activity
from patron.activities.views import ACTIVITY_EXPORT
from patron.core.choices import Action
from patron.core.exports import export_rows, record_export
from patron.core.record_pages import list_query
from patron.core.views import principal, render_error

# One file holds at most this many appointments and tasks (a list beyond it is refused).
MAX_ICS_ACTIVITIES = 5000


@login_required
@require_safe
def activity_list_ics(request: HttpRequest) -> HttpResponse:
    user = principal(request)
    if not user.access_profile().may(Activity.object_type(), Action.EXPORT):
        return render_error(request, 403, "Your role may not export activities.")
    query = list_query(request.GET)
    rows = export_rows(ACTIVITY_EXPORT, user, query).filter(
        kind__in=(ActivityKind.APPOINTMENT, ActivityKind.TASK)
    )
    chosen = list(with_calendar_parts(rows)[: MAX_ICS_ACTIVITIES + 1])
    if len(chosen) > MAX_ICS_ACTIVITIES:
        return render_error(
            request,
            400,
            f"This list has more than {MAX_ICS_ACTIVITIES:,} appointments and tasks, the most "
            "one calendar file holds. Narrow it with filters and export again.",
        )
    body = feed_ics(
        name="Patron activities",
        zone=zone_of(user),
        appointments=[a for a in chosen if a.kind == ActivityKind.APPOINTMENT],
        tasks=[a for a in chosen if a.kind == ActivityKind.TASK],
    )
    record_export(
        user, object_type=Activity.object_type(), query=query, file_format="ics", rows=len(chosen)
    )
    response = HttpResponse(body, content_type=CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="activities.ics"'
    return response
