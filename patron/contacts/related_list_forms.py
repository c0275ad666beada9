"""The add/edit form of any contact related list, built from its spec's fields.

The form only types the input (dates, choices, a competitor the user can see); the services
check the rules that need the whole row (dates in order, one row per purpose or name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.db import models

from patron.contacts.forms import RecordPickerField
from patron.core.models import BusinessRecord
from patron.core.visibility import Principal

if TYPE_CHECKING:
    from patron.contacts.related_lists import RelatedListSpec


def _widget(model_field: models.Field[Any, Any]) -> forms.Widget | None:
    if isinstance(model_field, models.DateTimeField):
        return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    if isinstance(model_field, models.DateField):
        return forms.DateInput(attrs={"type": "date"})
    if isinstance(model_field, models.TextField):
        return forms.Textarea(attrs={"rows": 3})
    return None


class RelatedRowForm(forms.Form):
    """The fields of ``spec`` for a new row, or for ``row`` when editing it."""

    def __init__(
        self,
        data: Any = None,
        *,
        spec: RelatedListSpec,
        user: Principal,
        row: Any = None,
        **kwargs: Any,
    ) -> None:
        self.spec = spec
        self.row = row
        initial = dict(kwargs.pop("initial", None) or {})
        if row is not None:
            initial.update(forms.model_to_dict(row, fields=list(spec.fields)))
        kwargs.setdefault("auto_id", f"{spec.slug}-%s")
        super().__init__(data, initial=initial, **kwargs)
        for name in spec.fields:
            model_field = spec.model_field(name)
            if isinstance(model_field, models.ForeignKey):
                self.fields[name] = self._picker(model_field, user, row)
                continue
            form_field = model_field.formfield(widget=_widget(model_field))
            assert form_field is not None
            # Defaults such as "today" are shown as the initial value, not compared against.
            form_field.show_hidden_initial = False
            self.fields[name] = form_field

    def _picker(
        self, model_field: models.ForeignKey[Any, Any], user: Principal, row: Any
    ) -> forms.Field:
        """A choice of the records the user can see, plus the one already chosen (keeping
        it must not fail because someone else owns it)."""
        target = model_field.related_model
        assert isinstance(target, type)
        assert issubclass(target, BusinessRecord)
        current = getattr(row, model_field.name) if row is not None else None
        choices = target.objects.visible_to(user)
        if current is not None:
            choices = choices | target.objects.filter(pk=current.pk)
        picker = RecordPickerField(
            queryset=choices,
            required=not model_field.blank,
            label=str(model_field.verbose_name).capitalize(),
            empty_label="None",
        )
        picker.current = current  # type: ignore[attr-defined]
        return picker

    def service_values(self) -> dict[str, Any]:
        """The cleaned values, named as the services take them."""
        return {name: self.cleaned_data.get(name) for name in self.spec.fields}
