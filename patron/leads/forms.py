"""Forms of the lead pages: they type-check input; the services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms

from patron.contacts.forms import EXTERNAL_ID_HELP, RecordIdChoiceField, RecordPickerField
from patron.contacts.models import Account, Contact
from patron.core.forms import RecordForm
from patron.core.record_pages import BulkEditForm
from patron.core.visibility import Principal
from patron.leads.capture import CAPTURE_FIELDS
from patron.leads.choices import (
    CaptureMatchAction,
    DisqualificationReason,
    LeadSource,
    LeadStatus,
)
from patron.leads.conversion import conversion_steps
from patron.leads.models import Lead
from patron.users.models import Team, User


class LeadForm(RecordForm):
    model = Lead
    model_fields = [
        "salutation",
        "first_name",
        "last_name",
        "title",
        "company",
        "email",
        "phone",
        "mobile",
        "website",
        "industry",
        "employee_count",
        "annual_revenue",
        "street",
        "city",
        "region",
        "postal_code",
        "country",
        "language",
        "source",
        "source_detail",
        "campaign",
        "status",
        "owner",
        "team",
        "email_opt_out",
        "description",
        "external_id",
    ]
    widgets = {
        "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        "mobile": forms.TextInput(attrs={"type": "tel"}),
        "email": forms.EmailInput(attrs={"autocomplete": "email"}),
        "country": forms.TextInput(attrs={"maxlength": 2, "autocomplete": "country"}),
        "description": forms.Textarea(attrs={"rows": 4}),
    }
    help_texts = {
        "phone": "Any format; stored with its country code.",
        "country": "Two-letter code, e.g. DE.",
        "campaign": "The campaign that brought the lead (free text until campaigns exist).",
        "status": "To disqualify, use the Disqualify button on the lead's page.",
        "external_id": EXTERNAL_ID_HELP,
    }
    labels = {"external_id": "External id"}
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True), required=False, empty_label="Me"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, empty_label="No team"
    )
    website = forms.URLField(required=False, max_length=200, assume_scheme="https")
    status = forms.ChoiceField(
        choices=[c for c in LeadStatus.choices if c[0] != LeadStatus.DISQUALIFIED],
        initial=LeadStatus.NEW,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance = self.instance
        if isinstance(instance, Lead) and instance.status == LeadStatus.DISQUALIFIED:
            self.fields["status"] = forms.ChoiceField(choices=LeadStatus.choices)


class LeadBulkEditForm(BulkEditForm):
    status = forms.ChoiceField(
        choices=[("", "Keep status")]
        + [c for c in LeadStatus.choices if c[0] != LeadStatus.DISQUALIFIED],
        required=False,
        label="Set status",
    )


class DisqualifyForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[("", "Choose a reason"), *DisqualificationReason.choices], label="Reason"
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Note")


ACCOUNT_CHOICES = [
    ("match", "Use the suggested or matching account (or create one if none matches)"),
    ("existing", "Use the account chosen below"),
    ("company", "Create a new company account from the lead"),
    ("person", "Create a person account (B2C)"),
]


class ConvertForm(forms.Form):
    account_mode = forms.ChoiceField(
        choices=ACCOUNT_CHOICES, widget=forms.RadioSelect, initial="match", label="Account"
    )
    account = RecordPickerField(
        queryset=Account.objects.none(), required=False, label="Existing account"
    )
    contact = RecordIdChoiceField(
        object_type="contacts.contact",
        choices=[("", "The contact with the lead's email, else a new one")],
        required=False,
        empty_value=None,
        label="Existing contact",
        help_text="Search by name; left empty, the contact with the lead's email is reused.",
    )

    def __init__(self, *args: Any, user: Principal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        account_field = self.fields["account"]
        account_field.queryset = Account.objects.visible_to(user).only(  # type: ignore[attr-defined]
            "id", "name"
        )
        self.user = user
        # Steps registered by higher apps (pipeline: the opportunity) add their fields.
        self.step_sections: list[tuple[str, list[str]]] = []
        for step in conversion_steps():
            if step.form_fields is None:
                continue
            names = []
            for name, form_field in step.form_fields().items():
                self.fields[f"{step.key}_{name}"] = form_field
                names.append(f"{step.key}_{name}")
            self.step_sections.append((step.label or step.key, names))

    @property
    def step_cards(self) -> list[dict[str, Any]]:
        return [
            {"title": title, "fields": [self[name] for name in names]}
            for title, names in self.step_sections
        ]

    def step_options(self) -> dict[str, Any]:
        """Each step's input from its fields' cleaned values, by step key."""
        options: dict[str, Any] = {}
        for step in conversion_steps():
            if step.options is None:
                continue
            prefix = f"{step.key}_"
            values = {
                name.removeprefix(prefix): value
                for name, value in self.cleaned_data.items()
                if name.startswith(prefix)
            }
            options[step.key] = step.options(values)
        return options

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("account_mode") == "existing" and not data.get("account"):
            self.add_error("account", "Choose the account, or pick another option above.")
        contact_id = data.get("contact")
        if contact_id is not None:
            contact = Contact.objects.visible_to(self.user).filter(pk=contact_id).first()
            if contact is None:
                self.add_error("contact", f"No contact with id {contact_id} that you can see.")
            data["contact"] = contact
        return data


class CaptureFormConfigForm(forms.Form):
    name = forms.CharField(max_length=150, help_text="Only admins see it.")
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    double_opt_in = forms.BooleanField(
        required=False,
        label="Double opt-in",
        help_text="Email a confirmation link; the lead is opted out of email until confirmed.",
    )
    match_action = forms.ChoiceField(choices=CaptureMatchAction.choices, label="On a match")
    default_owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        label="Default owner",
        help_text="Owns new leads until routing assigns them.",
    )
    default_source = forms.ChoiceField(choices=LeadSource.choices, initial=LeadSource.WEB_FORM)
    default_campaign = forms.CharField(max_length=150, required=False)
    thank_you_message = forms.CharField(max_length=500, initial="Thank you, we will be in touch.")
    redirect_url = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text="Send visitors to this page instead of showing the message.",
    )
    allowed_origins = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Sites allowed to embed the form, one per line, e.g. https://www.example.com.",
    )
    max_submissions_per_hour = forms.IntegerField(
        min_value=1, max_value=10_000, initial=20, help_text="Per sender address."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, label in CAPTURE_FIELDS.items():
            self.fields[f"use_{name}"] = forms.BooleanField(
                required=False, label=f"Ask for {label.lower()}"
            )
            self.fields[f"label_{name}"] = forms.CharField(
                required=False, max_length=100, label=f"Label of {label.lower()}"
            )
            self.fields[f"required_{name}"] = forms.BooleanField(
                required=False, label=f"{label} required"
            )

    def field_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "default": label,
                "use": self[f"use_{name}"],
                "label": self[f"label_{name}"],
                "required": self[f"required_{name}"],
            }
            for name, label in CAPTURE_FIELDS.items()
        ]

    def config(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields = [
            {
                "field": name,
                "label": data.get(f"label_{name}") or label,
                "required": bool(data.get(f"required_{name}")),
            }
            for name, label in CAPTURE_FIELDS.items()
            if data.get(f"use_{name}")
        ]
        return {
            "name": data["name"],
            "is_active": data["is_active"],
            "double_opt_in": data["double_opt_in"],
            "match_action": data["match_action"],
            "default_owner": data["default_owner"],
            "default_source": data["default_source"],
            "default_campaign": data["default_campaign"],
            "thank_you_message": data["thank_you_message"],
            "redirect_url": data["redirect_url"],
            "allowed_origins": (data.get("allowed_origins") or "").split(),
            "max_submissions_per_hour": data["max_submissions_per_hour"],
            "fields": fields,
        }

    @classmethod
    def initial_from(cls, form: Any) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": form.name,
            "is_active": form.is_active,
            "double_opt_in": form.double_opt_in,
            "match_action": form.match_action,
            "default_owner": form.default_owner_id,
            "default_source": form.default_source,
            "default_campaign": form.default_campaign,
            "thank_you_message": form.thank_you_message,
            "redirect_url": form.redirect_url,
            "allowed_origins": "\n".join(form.allowed_origins or []),
            "max_submissions_per_hour": form.max_submissions_per_hour,
        }
        for item in form.fields:
            initial[f"use_{item['field']}"] = True
            initial[f"label_{item['field']}"] = item["label"]
            initial[f"required_{item['field']}"] = item["required"]
        return initial
