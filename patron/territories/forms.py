"""Forms of the territory pages; the services validate, these only carry the input."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from patron.territories.choices import MemberRole, RuleField, RuleOperator
from patron.territories.models import Territory, TerritoryModel
from patron.territories.registry import territory_subjects
from patron.users.models import User


class ModelForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class CopyForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name of the copy")


class TerritoryForm(forms.Form):
    name = forms.CharField(max_length=200)
    parent = forms.TypedChoiceField(
        coerce=int,
        empty_value=None,
        required=False,
        help_text="A territory inside another claims a record only if the parent's rules "
        "match it too.",
    )
    priority = forms.IntegerField(
        initial=0, help_text="Among equally deep territories that match, the higher wins."
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(
        self, *args: Any, model: TerritoryModel, territory: Territory | None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        candidates = Territory.objects.filter(model=model).order_by("path")
        if territory is not None:
            candidates = candidates.exclude(path__startswith=territory.path)
        field = cast(forms.TypedChoiceField, self.fields["parent"])
        field.choices = [("", "— none (top level) —")] + [
            (t.pk, f"{'· ' * t.depth}{t.name}") for t in candidates
        ]


class RuleRowForm(forms.Form):
    field = forms.ChoiceField(choices=[("", "—"), *RuleField.choices], required=False)
    operator = forms.ChoiceField(choices=RuleOperator.choices, required=False)
    values = forms.CharField(
        required=False,
        max_length=5000,
        help_text="For “is one of”: values separated by commas.",
    )
    low = forms.CharField(required=False, max_length=40, label="From")
    high = forms.CharField(required=False, max_length=40, label="To")


RuleFormSet = forms.formset_factory(RuleRowForm, extra=3, max_num=100, validate_max=True)


class MemberForm(forms.Form):
    user = forms.TypedChoiceField(coerce=int)
    role = forms.ChoiceField(choices=MemberRole.choices, initial=MemberRole.SALES_REP)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.TypedChoiceField, self.fields["user"])
        field.choices = [("", "Choose a user")] + [
            (user.pk, f"{user} ({user.email})")
            for user in User.objects.filter(is_active=True).order_by("full_name", "email")
        ]


class QuotaForm(forms.Form):
    period_start = forms.DateField(
        label="Period starts", widget=forms.DateInput(attrs={"type": "date"})
    )
    period_end = forms.DateField(
        label="Period ends", widget=forms.DateInput(attrs={"type": "date"})
    )
    amount = forms.DecimalField(min_value=0, max_digits=18, decimal_places=2)
    currency = forms.CharField(max_length=3, min_length=3)


class AssignForm(forms.Form):
    object_type = forms.ChoiceField(label="Kind of record")
    object_id = forms.IntegerField(label="Record id", min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["object_type"])
        field.choices = [(s.object_type, s.label or s.object_type) for s in territory_subjects()]


class CompareFilterForm(forms.Form):
    object_type = forms.ChoiceField(label="Kind of record", required=False)
    from_territory = forms.TypedChoiceField(
        label="From (active)", coerce=int, empty_value=None, required=False
    )
    to_territory = forms.TypedChoiceField(
        label="To (planning)", coerce=int, empty_value=None, required=False
    )
    user = forms.TypedChoiceField(
        label="Gained or lost by", coerce=int, empty_value=None, required=False
    )

    def __init__(
        self,
        *args: Any,
        active: list[Territory],
        planning: list[Territory],
        users: list[User],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["object_type"]).choices = [("", "All")] + [
            (s.object_type, s.label or s.object_type) for s in territory_subjects()
        ]
        cast(forms.TypedChoiceField, self.fields["from_territory"]).choices = [("", "Any")] + [
            (t.pk, t.name) for t in active
        ]
        cast(forms.TypedChoiceField, self.fields["to_territory"]).choices = [("", "Any")] + [
            (t.pk, t.name) for t in planning
        ]
        cast(forms.TypedChoiceField, self.fields["user"]).choices = [("", "Anyone")] + [
            (u.pk, str(u)) for u in users
        ]
