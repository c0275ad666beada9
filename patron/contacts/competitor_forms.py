"""Forms for competitors and their presence at accounts: they type-check input; the
services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms

from patron.contacts.choices import CompetitorStatus
from patron.contacts.models import Competitor
from patron.core.forms import RecordForm
from patron.users.models import Team, User


class CompetitorForm(RecordForm):
    model = Competitor
    model_fields = [
        "name",
        "website",
        "owner",
        "team",
        "strengths",
        "weaknesses",
        "products",
        "description",
    ]
    widgets = {
        "strengths": forms.Textarea(attrs={"rows": 4}),
        "weaknesses": forms.Textarea(attrs={"rows": 4}),
        "products": forms.Textarea(attrs={"rows": 4}),
        "description": forms.Textarea(attrs={"rows": 3}),
    }
    help_texts = {
        "products": "One product per line.",
        "strengths": "Where they beat us: what customers praise them for.",
        "weaknesses": "Where we win against them.",
    }

    owner: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        label="Owner",
        required=False,
        empty_label="Me",
    )
    team: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, empty_label="No team"
    )
    website = forms.URLField(
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text="e.g. https://example.com",
    )


class AccountCompetitorForm(forms.Form):
    """What a competitor sells at one account (the competitor is chosen only when adding)."""

    status = forms.ChoiceField(choices=CompetitorStatus.choices, label="Status")
    products_sold = forms.CharField(
        required=False,
        label="What they sell here",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    contract_end = forms.DateField(
        required=False,
        label="Contract ends",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def service_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.fields if name != "competitor"}


class AccountCompetitorAddForm(AccountCompetitorForm):
    competitor = forms.IntegerField(min_value=1, label="Competitor")
