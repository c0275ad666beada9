"""Form plumbing shared by every record form: model field types, custom fields, field-level
security and showing service errors on the fields they name.

Forms only collect and type-check input; the services validate and write.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from patron.core.choices import CustomFieldType, FieldAccess
from patron.core.exceptions import ValidationFailed
from patron.core.models import BusinessRecord, CustomFieldDefinition
from patron.core.visibility import Principal, sensitive_field_access

CUSTOM_PREFIX = "custom__"
YES_NO_CHOICES = [("", "—"), ("yes", "Yes"), ("no", "No")]


def custom_field_name(key: str) -> str:
    """The form field name of custom field ``key`` (safe in HTML ids and CSS selectors)."""
    return f"{CUSTOM_PREFIX}{key}"


def custom_form_field(definition: CustomFieldDefinition) -> forms.Field:
    """A form field of the right type for one custom field definition."""
    common: dict[str, Any] = {
        "label": definition.label,
        "required": definition.required,
        "help_text": definition.help_text,
    }
    kind = definition.field_type
    choices = [(c, c) for c in definition.choices]
    if kind == CustomFieldType.NUMBER:
        return forms.DecimalField(**common)
    if kind == CustomFieldType.MONEY:
        common["help_text"] = (
            common["help_text"] or "An amount, optionally with a currency: 1200.50 EUR"
        )
        return forms.CharField(max_length=40, **common)
    if kind == CustomFieldType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if kind == CustomFieldType.BOOLEAN:
        return forms.ChoiceField(choices=YES_NO_CHOICES, **common)
    if kind == CustomFieldType.CHOICE:
        return forms.ChoiceField(choices=[("", "—"), *choices], **common)
    if kind == CustomFieldType.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            choices=choices, widget=forms.CheckboxSelectMultiple, **common
        )
    if kind == CustomFieldType.LOOKUP:
        common["help_text"] = common["help_text"] or "The id of the linked record."
        return forms.IntegerField(min_value=1, **common)
    return forms.CharField(max_length=1000, **common)


def custom_initial(definition: CustomFieldDefinition, value: Any) -> Any:
    if value is None:
        return None
    if definition.field_type == CustomFieldType.BOOLEAN:
        return "yes" if value else "no"
    if definition.field_type == CustomFieldType.MONEY and isinstance(value, dict):
        return f"{value.get('amount', '')} {value.get('currency', '')}".strip()
    return value



def add_service_errors(form: forms.Form, error: ValidationFailed) -> None:
    """Show a service's field errors on the matching fields (others, or the detail when there
    are none, at the top of the form)."""
    for field, messages in error.errors.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)
    if not error.errors:
        form.add_error(None, error.detail)


class RecordForm(forms.Form):
    """Base of create/edit forms for a ``BusinessRecord`` model.

    Subclasses name the model and its editable fields; this class adds the custom fields,
    hides or disables sensitive fields per field-level security, tracks the record version
    for optimistic concurrency, and maps service errors back onto fields.
    """

    model: ClassVar[type[BusinessRecord]]
    model_fields: ClassVar[list[str]]
    widgets: ClassVar[dict[str, Any]] = {}
    labels: ClassVar[dict[str, str]] = {}
    help_texts: ClassVar[dict[str, str]] = {}

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(
        self,
        data: Any = None,
        *,
        user: Principal,
        definitions: list[CustomFieldDefinition],
        instance: BusinessRecord | None = None,
        **kwargs: Any,
    ) -> None:
        self.instance = instance
        self.definitions = definitions
        initial = dict(kwargs.pop("initial", None) or {})
        if instance is not None:
            initial.update(forms.model_to_dict(instance, fields=self.model_fields))
            initial["version"] = instance.version
            for definition in definitions:
                initial[custom_field_name(definition.key)] = custom_initial(
                    definition, (instance.custom or {}).get(definition.key)
                )
        super().__init__(data, initial=initial, **kwargs)
        declared = dict(self.fields)
        generated = forms.fields_for_model(
            self.model,
            fields=[name for name in self.model_fields if name not in declared],
            widgets=self.widgets,
            labels=self.labels,
            help_texts=self.help_texts,
        )
        self.fields = {}
        for name in self.model_fields:
            field = declared.get(name) or generated.get(name)
            if field is not None:
                self.fields[name] = field
        for definition in definitions:
            self.fields[custom_field_name(definition.key)] = custom_form_field(definition)
        self.fields["version"] = declared["version"]
        owner = self.fields.get("owner")
        if instance is not None and isinstance(owner, forms.ModelChoiceField):
            # Every record has an owner; "me" is only the default for new records.
            owner.required = True
            owner.empty_label = None
        self._apply_field_security(user)

    def _sensitive_names(self) -> list[tuple[str, str]]:
        """(form field name, security field name) of every sensitive field on the form."""
        names = [(n, n) for n in self.model.SENSITIVE_FIELDS if n in self.fields]
        names += [
            (custom_field_name(d.key), f"custom.{d.key}") for d in self.definitions if d.sensitive
        ]
        return names

    def _apply_field_security(self, user: Principal) -> None:
        access_by_field = sensitive_field_access(user, self.model)
        for form_name, security_name in self._sensitive_names():
            access = access_by_field.get(security_name, FieldAccess.EDIT)
            if access == FieldAccess.HIDDEN:
                del self.fields[form_name]
            elif access == FieldAccess.READ_ONLY:
                self.fields[form_name].disabled = True
                self.fields[form_name].required = False
                self.fields[form_name].help_text = "Read only for your role."

    @property
    def model_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.model_fields if name in self.fields]

    @property
    def custom_bound_fields(self) -> list[forms.BoundField]:
        names = (custom_field_name(d.key) for d in self.definitions)
        return [self[name] for name in names if name in self.fields]

    def service_values(self, *, only_changed: bool) -> dict[str, Any]:
        """Keyword arguments for the create/update service from the cleaned data.

        Disabled (read-only) fields are never sent; on edit only changed fields are, so
        an untouched field is never rewritten.
        """
        changed = set(self.changed_data)
        values: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        for name, field in self.fields.items():
            if name == "version" or field.disabled or name not in self.cleaned_data:
                continue
            if only_changed and name not in changed:
                continue
            value = self.cleaned_data[name]
            if name == "owner" and value is None:
                continue
            if name.startswith(CUSTOM_PREFIX):
                custom[name.removeprefix(CUSTOM_PREFIX)] = value
            else:
                values[name] = "" if value is None and self._is_text(name) else value
        if custom:
            values["custom"] = custom
        return values

    def _is_text(self, name: str) -> bool:
        try:
            model_field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        return isinstance(model_field, models.CharField | models.TextField)

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """Show a service's ``ValidationFailed.errors`` on the matching fields."""
        for key, messages in errors.items():
            name = custom_field_name(key[7:]) if key.startswith("custom.") else key
            target = name if name in self.fields else None
            for message in messages:
                if target is None:
                    self.add_error(None, f"{key}: {message}")
                else:
                    self.add_error(target, message)

    def keep_errors_for(self, name: str) -> None:
        """Inline validation of one field: drop the errors of fields not yet filled in."""
        for other in list(self.errors):
            if other != name:
                del self.errors[other]
