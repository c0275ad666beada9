"""The options of a record picker for a search term: /ui/pick/<object_type>/?q=&name=.

``RecordSearchSelect`` calls this view with HTMX as the user types and swaps the answer into
its ``<select>``: the current choice first (so searching never changes what is saved until
the user picks something else), then the matching records the user may read, and a
screen-reader status saying how many were found.
"""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from patron.core import search as core_search
from patron.core.exceptions import RecordNotFound
from patron.core.pickers import PICKER_RESULTS, Option, get_picker
from patron.core.views import handles_domain_errors, principal

# A field's HTML name (form prefixes included); anything else names no field of ours.
_FIELD_NAME = re.compile(r"^[\w.-]{1,100}$")
# Shown for a current choice the user may not read (e.g. someone else's parent account).
KEEP_LABEL = "Keep the current choice"


@require_GET
@login_required
@handles_domain_errors
def pick(request: HttpRequest, object_type: str) -> HttpResponse:
    picker = get_picker(object_type)
    if picker is None:
        raise RecordNotFound(f"There is no picker for records of kind {object_type!r}.")
    user = principal(request)
    term = request.GET.get("q", "").strip()[: core_search.MAX_QUERY_LENGTH]
    name = request.GET.get("name", "")
    name = name if _FIELD_NAME.match(name) else ""
    raw_selected = request.GET.get(name, "") if name else ""
    selected: Option | None = None
    if raw_selected.isdigit():
        selected = picker.lookup(user, int(raw_selected)) or (int(raw_selected), KEEP_LABEL, "")
    found = picker.search(user, term, PICKER_RESULTS)
    options = [option for option in found if selected is None or option[0] != selected[0]]
    context = {
        "picker": picker,
        "term": term,
        "name": name,
        "selected": selected,
        "options": options,
        "capped": len(found) >= PICKER_RESULTS,
    }
    return render(request, "core/widgets/picker_options.html", context)
