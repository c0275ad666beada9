"""Forms for logging in, the user's settings and the admin area.

Forms only parse and present input; rules live in services, whose field errors are put back
on the form with ``add_service_errors``.
"""

from __future__ import annotations

import calendar
import zoneinfo
from functools import cache
from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordChangeForm

from patron.core.choices import CustomFieldType
from patron.core.models import CustomFieldDefinition
from patron.users.models import Role, Team, User
from patron.users.selectors import business_object_types
from patron.users.services import valid_scopes


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class LoginForm(forms.Form):
    email = forms.EmailField(
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=10,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9 ]*",
                "autofocus": True,
            }
        ),
    )


class ProfileForm(forms.Form):
    full_name = forms.CharField(label="Name", max_length=150, required=False)
    time_zone = forms.ChoiceField(label="Time zone", choices=time_zone_choices)


class PasswordForm(PasswordChangeForm):
    """Django's checks (old password, matching, strength); the save goes through services."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One section of a longer page: it must not steal the focus.
        self.fields["old_password"].widget.attrs.pop("autofocus", None)


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="So you can recognise it later.")
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in sorted(valid_scopes())],
        widget=forms.CheckboxSelectMultiple,
        help_text="write includes read.",
    )
    expires_on = forms.DateField(
        label="Expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty for a token that does not expire.",
    )


class AdminUserCreateForm(forms.Form):
    email = forms.EmailField()
    full_name = forms.CharField(label="Name", max_length=150, required=False)
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    role = forms.ModelChoiceField(queryset=Role.objects.order_by("path"), required=False)
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )


class AdminUserEditForm(forms.Form):
    full_name = forms.CharField(label="Name", max_length=150, required=False)
    role = forms.ModelChoiceField(queryset=Role.objects.order_by("path"), required=False)
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    is_active = forms.BooleanField(label="Active (may log in)", required=False)


class AdminPasswordResetForm(forms.Form):
    password = forms.CharField(
        label="New password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label="New password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(max_length=300, required=False)
    members = forms.ModelMultipleChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("email"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class RoleForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(max_length=300, required=False)
    parent = forms.ModelChoiceField(
        label="Reports to",
        queryset=Role.objects.order_by("path"),
        required=False,
        help_text="Managers see the records of every role below theirs.",
    )
    is_admin = forms.BooleanField(label="Administrator", required=False)
    require_two_factor = forms.BooleanField(label="Require two-factor", required=False)


def _object_type_choices(blank: bool = False) -> list[tuple[str, str]]:
    choices = business_object_types()
    return [("", "—"), *choices] if blank else choices


class CustomFieldForm(forms.Form):
    object_type = forms.ChoiceField(label="Object", choices=_object_type_choices)
    key = forms.CharField(
        max_length=50,
        help_text="Used in the API and imports: lower-case letters, digits, underscores.",
    )
    label = forms.CharField(max_length=100)
    field_type = forms.ChoiceField(label="Type", choices=CustomFieldType.choices)
    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="For choice fields: one choice per line.",
    )
    lookup_object_type = forms.ChoiceField(
        label="Lookup target",
        required=False,
        choices=lambda: _object_type_choices(blank=True),
        help_text="For lookup fields: the kind of record it points to.",
    )
    required = forms.BooleanField(required=False)
    sensitive = forms.BooleanField(
        required=False, help_text="Field security per role decides who sees it."
    )
    help_text = forms.CharField(max_length=200, required=False)
    position = forms.IntegerField(min_value=0, initial=0, required=False)
    active = forms.BooleanField(required=False, initial=True)

    FIXED_AFTER_CREATE = ("object_type", "key", "field_type")

    def __init__(self, *args: Any, definition: CustomFieldDefinition | None = None, **kwargs: Any):
        if definition is not None:
            kwargs.setdefault(
                "initial",
                {
                    "object_type": definition.object_type,
                    "key": definition.key,
                    "label": definition.label,
                    "field_type": definition.field_type,
                    "choices": "\n".join(definition.choices),
                    "lookup_object_type": definition.lookup_object_type,
                    "required": definition.required,
                    "sensitive": definition.sensitive,
                    "help_text": definition.help_text,
                    "position": definition.position,
                    "active": definition.active,
                },
            )
        super().__init__(*args, **kwargs)
        if definition is not None:
            for name in self.FIXED_AFTER_CREATE:
                self.fields[name].disabled = True
        else:
            del self.fields["active"]

    def choice_list(self) -> list[str]:
        return str(self.cleaned_data.get("choices") or "").splitlines()


class OrgSettingsForm(forms.Form):
    name = forms.CharField(label="Organisation name", max_length=200)
    default_currency = forms.CharField(max_length=3, help_text="ISO 4217 code, e.g. EUR.")
    time_zone = forms.ChoiceField(choices=time_zone_choices)
    fiscal_year_start_month = forms.TypedChoiceField(
        label="Fiscal year starts in",
        coerce=int,
        choices=[(number, calendar.month_name[number]) for number in range(1, 13)],
    )
    require_two_factor_for_admins = forms.BooleanField(
        label="Require two-factor for administrators", required=False
    )
