"""The new privacy request form: what to do and whom it is about."""

from __future__ import annotations

from typing import Any

from django import forms

from patron.data_exchange.choices import PrivacyRequestKind


class PrivacyRequestForm(forms.Form):
    kind = forms.ChoiceField(
        label="What the person asks for",
        choices=PrivacyRequestKind.choices,
        widget=forms.RadioSelect,
    )
    email = forms.CharField(
        label="Email address",
        required=False,
        max_length=254,
        help_text="Finds every contact, lead and person account with this address.",
    )
    contact = forms.IntegerField(
        label="Contact (id)", required=False, min_value=1, help_text="Or start from a contact."
    )
    lead = forms.IntegerField(
        label="Lead (id)", required=False, min_value=1, help_text="Or start from a lead."
    )
    reason = forms.CharField(
        label="Reason or reference",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="How the request arrived, a ticket number… (no personal data needed).",
    )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        found_by = cleaned.get("email") or cleaned.get("contact") or cleaned.get("lead")
        if not found_by and not self.errors:
            self.add_error("email", "Give an email address, a contact or a lead.")
        return cleaned
