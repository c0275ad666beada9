"""Form widgets shared by every app."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.models import ModelChoiceIterator
from django.urls import reverse

from patron.core.pickers import get_picker


class RecordSearchSelect(forms.Select):
    """A record picker: a ``<select>`` of the current value and the first records by name
    (so it works without JavaScript), with a search box above it that asks the picker view
    (``/ui/pick/<object_type>/``) for matching records as the user types.

    The empty choice stays outside the searched options; the view answers the current choice
    first, so typing never changes the selection until the user picks another record. With no
    picker registered for the type it is a plain ``<select>``.
    """

    template_name = "core/widgets/record_search_select.html"

    def __init__(self, object_type: str, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.object_type = object_type

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        options = [option for _group, group, _index in widget["optgroups"] for option in group]
        blank = [option for option in options if option["value"] in ("", None)]
        records = [option for option in options if option["value"] not in ("", None)]
        missing = self._missing_choice(name, widget["value"], records)
        if missing is not None:
            records.insert(0, missing)
        picker = get_picker(self.object_type)
        select_id = widget["attrs"].get("id") or f"id_{name}"
        widget["attrs"]["id"] = select_id
        widget.update(
            searchable=picker is not None,
            blank_options=blank,
            record_options=records,
            label_plural=picker.label_plural if picker else "records",
            search_url=reverse("ui:pick", args=[self.object_type]),
            search_id=f"{select_id}_search",
            options_id=f"picker-{name}-options",
            status_id=f"picker-{name}-status",
        )
        return context

    def _missing_choice(
        self, name: str, value: list[str], records: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The submitted choice when it is not among the first records (picked from a search
        and shown again with the form's errors), so the form does not silently lose it."""
        chosen = [v for v in value if v]
        if not chosen or any(option["selected"] for option in records):
            return None
        if not isinstance(self.choices, ModelChoiceIterator) or not chosen[0].isdigit():
            return None
        record = self.choices.queryset.filter(pk=int(chosen[0])).first()
        if record is None:
            return None
        choice_value, label = self.choices.choice(record)
        return self.create_option(name, choice_value, label, True, 0)
