"""Forms for accounts and contacts: they type-check input; services validate and write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from django import forms
from django.core.validators import RegexValidator
from django.forms.models import ModelChoiceIterator

from patron.contacts.choices import AccountTier
from patron.contacts.models import Account, Contact, ContactRole
from patron.core.forms import RecordForm
from patron.core.record_pages import BulkEditForm
from patron.core.values import normalize_email, normalize_phone
from patron.core.visibility import Principal
from patron.core.widgets import RecordSearchSelect
from patron.users.models import Team, User

# A record picker lists this many records by name without JavaScript; its search box finds
# the others, and the current value is always offered.
PICKER_LIMIT = 200


class RecordPickerIterator(ModelChoiceIterator):
    """Choices limited to the first ``PICKER_LIMIT`` by name plus the current value, so a
    picker stays small on a table of millions while any visible record still validates."""

    def __iter__(self) -> Iterator[Any]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        current = getattr(self.field, "current", None)
        if current is not None:
            yield self.choice(current)
        rows = self.queryset.order_by("name", "id")
        if current is not None:
            rows = rows.exclude(pk=current.pk)
        for record in rows[:PICKER_LIMIT]:
            yield self.choice(record)


class RecordPickerField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A searchable picker of the queryset's records. Choices show the first ones by name;
    validation accepts any record of the queryset (all the user may see), since the search
    box offers records beyond the first ``PICKER_LIMIT``."""

    iterator = RecordPickerIterator

    def __init__(self, *, queryset: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", RecordSearchSelect(queryset.model._meta.label_lower))
        super().__init__(queryset=queryset, **kwargs)


class RecordIdChoiceField(forms.TypedChoiceField):
    """A searchable picker over a list of records that accepts any record id: the search box
    offers records beyond the listed ones, and the service checks the user may see the one
    chosen (answering a field error otherwise)."""

    def __init__(self, *, object_type: str, **kwargs: Any) -> None:
        kwargs.setdefault("widget", RecordSearchSelect(object_type))
        super().__init__(coerce=int, **kwargs)

    def valid_value(self, value: Any) -> bool:
        return str(value).isdigit() or super().valid_value(value)


def _accounts_for(user: Principal, current: Account | None) -> Any:
    """Accounts a picker accepts: those the user sees, plus the value already saved (which
    may be someone else's record; keeping it must not fail validation)."""
    accounts = Account.objects.visible_to(user)
    if current is not None:
        accounts = accounts | Account.objects.filter(pk=current.pk)
    return accounts.only("id", "name")


def _owner_field(label: str = "Owner") -> forms.ModelChoiceField:  # type: ignore[type-arg]
    return forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        label=label,
        required=False,
        empty_label="Me",
    )


def _team_field() -> forms.ModelChoiceField:  # type: ignore[type-arg]
    return forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, empty_label="No team"
    )


class ContactChannelsMixin(forms.Form):
    """Email and phone checked the way the services store them, for inline validation."""

    def clean_email(self) -> str:
        value = str(self.cleaned_data.get("email") or "")
        if not value:
            return value
        try:
            return normalize_email(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_phone(self) -> str:
        value = str(self.cleaned_data.get("phone") or "")
        if not value:
            return value
        region = str(self.data.get("billing_country") or "") or None
        try:
            return normalize_phone(value, region)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


EXTERNAL_ID_HELP = (
    "The record's id in the system it came from (e.g. a Salesforce or HubSpot id); imports "
    "match on it."
)


class AccountForm(ContactChannelsMixin, RecordForm):
    model = Account
    model_fields = [
        "kind",
        "name",
        "first_name",
        "last_name",
        "industry",
        "tier",
        "owner",
        "team",
        "parent",
        "email",
        "phone",
        "website",
        "employee_count",
        "annual_revenue",
        "revenue_currency",
        "year_established",
        "billing_street",
        "billing_city",
        "billing_region",
        "billing_postal_code",
        "billing_country",
        "description",
        "external_id",
    ]
    widgets = {
        "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        "email": forms.EmailInput(attrs={"autocomplete": "email"}),
        "description": forms.Textarea(attrs={"rows": 4}),
        "billing_country": forms.TextInput(attrs={"maxlength": 2, "autocomplete": "country"}),
        "revenue_currency": forms.TextInput(attrs={"maxlength": 3}),
    }
    labels = {
        "first_name": "First name (person accounts)",
        "last_name": "Last name (person accounts)",
        "billing_postal_code": "Billing postal code",
        "employee_count": "Employees",
        "external_id": "External id",
    }
    help_texts = {
        "phone": "Any format; stored with its country code.",
        "billing_country": "Two-letter code, e.g. GB.",
        "revenue_currency": "Three-letter code, e.g. EUR.",
        "name": "For a person account, left empty it is made from the first and last name.",
        "external_id": EXTERNAL_ID_HELP,
    }

    parent = RecordPickerField(
        queryset=Account.objects.none(),
        required=False,
        label="Parent account",
        empty_label="No parent",
    )
    owner = _owner_field()
    team = _team_field()
    website = forms.URLField(required=False, max_length=200, assume_scheme="https")

    def __init__(self, *args: Any, user: Principal, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.fields["name"].required = False
        if "parent" in self.fields:
            parent_field = self.fields["parent"]
            current = getattr(self.instance, "parent", None)
            queryset = _accounts_for(user, current)
            if self.instance is not None and self.instance.pk:
                queryset = queryset.exclude(pk=self.instance.pk)
            parent_field.queryset = queryset  # type: ignore[attr-defined]
            parent_field.current = current  # type: ignore[attr-defined]


# Social networks a contact form offers: (key in Contact.social, label, profile URL of a
# handle; "" when the value is itself a URL).
SOCIAL_NETWORKS: tuple[tuple[str, str, str], ...] = (
    ("linkedin", "LinkedIn", "https://www.linkedin.com/in/{}"),
    ("x", "X (Twitter)", "https://x.com/{}"),
    ("github", "GitHub", "https://github.com/{}"),
    ("facebook", "Facebook", "https://www.facebook.com/{}"),
    ("instagram", "Instagram", "https://www.instagram.com/{}"),
    ("website", "Website", ""),
)
_NO_SPACES = RegexValidator(
    r"^\S*$", "Enter the handle without spaces (e.g. ana-lee), or the profile's full URL."
)


class SocialHandlesWidget(forms.MultiWidget):
    """One labelled text box per network."""

    template_name = "contacts/widgets/social_handles.html"

    def __init__(self) -> None:
        widgets: dict[str, forms.Widget | type[forms.Widget]] = {
            key: forms.URLInput() if not template else forms.TextInput()
            for key, _label, template in SOCIAL_NETWORKS
        }
        super().__init__(widgets)

    def decompress(self, value: Any) -> list[str]:
        value = value if isinstance(value, dict) else {}
        return [str(value.get(key) or "") for key, _label, _template in SOCIAL_NETWORKS]

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        for sub, (_key, label, _template) in zip(
            context["widget"]["subwidgets"], SOCIAL_NETWORKS, strict=True
        ):
            sub["label"] = label
        return context


class SocialHandlesField(forms.MultiValueField):
    """Contact.social as a handle (or URL) per network; blank networks are left out."""

    widget = SocialHandlesWidget

    def __init__(self, **kwargs: Any) -> None:
        fields = [
            forms.URLField(required=False, max_length=200, assume_scheme="https")
            if not template
            else forms.CharField(required=False, max_length=200, validators=[_NO_SPACES])
            for _key, _label, template in SOCIAL_NETWORKS
        ]
        kwargs.setdefault("required", False)
        super().__init__(fields, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[Any]) -> dict[str, str]:
        values = zip(SOCIAL_NETWORKS, data_list or [], strict=False)
        return {key: str(value).strip() for (key, _l, _t), value in values if value}


class ContactForm(ContactChannelsMixin, RecordForm):
    model = Contact
    model_fields = [
        "salutation",
        "first_name",
        "last_name",
        "title",
        "department",
        "account",
        "owner",
        "team",
        "email",
        "phone",
        "language",
        "time_zone",
        "birthdate",
        "do_not_call",
        "email_opt_out",
        "social",
        "description",
        "external_id",
    ]
    widgets = {
        "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        "email": forms.EmailInput(attrs={"autocomplete": "email"}),
        "birthdate": forms.DateInput(attrs={"type": "date"}),
        "description": forms.Textarea(attrs={"rows": 4}),
        "first_name": forms.TextInput(attrs={"autocomplete": "given-name"}),
        "last_name": forms.TextInput(attrs={"autocomplete": "family-name"}),
    }
    labels = {
        "do_not_call": "Do not call",
        "email_opt_out": "Opted out of email",
        "external_id": "External id",
    }
    help_texts = {
        "phone": "Any format; stored with its country code.",
        "language": "e.g. en, de-CH",
        "time_zone": "e.g. Europe/Berlin",
        "external_id": EXTERNAL_ID_HELP,
    }

    account = RecordPickerField(
        queryset=Account.objects.none(),
        required=False,
        label="Account",
        empty_label="No account",
    )
    owner = _owner_field()
    team = _team_field()
    social = SocialHandlesField(
        label="Social handles",
        help_text="A handle (ana-lee) or the profile's full URL; leave a network blank to drop it.",
    )

    def __init__(self, *args: Any, user: Principal, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        account_field = self.fields["account"]
        current = getattr(self.instance, "account", None)
        account_field.queryset = _accounts_for(user, current)  # type: ignore[attr-defined]
        account_field.current = current  # type: ignore[attr-defined]

    def clean_social(self) -> dict[str, str]:
        """The networks on the form, plus any others the contact has (set through the API or
        an import), which the form does not show and must not drop."""
        known = {key for key, _label, _template in SOCIAL_NETWORKS}
        saved = getattr(self.instance, "social", None) or {}
        others = {key: value for key, value in saved.items() if key not in known}
        return {**others, **(self.cleaned_data.get("social") or {})}


class AccountBulkEditForm(BulkEditForm):
    tier = forms.ChoiceField(
        choices=[("", "Keep tier"), *AccountTier.choices], required=False, label="Set tier"
    )
    industry = forms.CharField(max_length=100, required=False, label="Set industry")


class RelationForm(forms.Form):
    """A contact's relation to an account; the contact is chosen only when adding one."""

    contact = RecordIdChoiceField(object_type="contacts.contact", label="Contact")
    roles = forms.MultipleChoiceField(
        choices=ContactRole.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    responsibilities = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )
    start_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    is_primary = forms.BooleanField(required=False, label="This is the contact's main account")
    reports_to = forms.TypedChoiceField(
        coerce=int, empty_value=None, required=False, label="Reports to"
    )

    def __init__(
        self,
        *args: Any,
        contacts: list[Contact] | None,
        colleagues: list[Contact],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if contacts is None:
            del self.fields["contact"]
        else:
            contact_field = cast(forms.TypedChoiceField, self.fields["contact"])
            contact_field.choices = [("", "Choose a contact")] + [(c.pk, str(c)) for c in contacts]
        reports_field = cast(forms.TypedChoiceField, self.fields["reports_to"])
        reports_field.choices = [("", "Nobody here")] + [(c.pk, str(c)) for c in colleagues]

    def service_fields(self) -> dict[str, Any]:
        """The cleaned values under the names the relation services take."""
        data = dict(self.cleaned_data)
        data.pop("contact", None)
        data["reports_to_id"] = data.pop("reports_to", None)
        return data
