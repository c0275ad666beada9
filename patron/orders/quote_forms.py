"""Forms for quotes, their lines, TCO items, approval decisions, the customer's answer and the
quote rules: they type-check input; the services validate and write (so numbers arrive as
text and the service's messages name the field)."""

from __future__ import annotations

from typing import Any

from django import forms

from patron.core.forms import RecordForm
from patron.core.visibility import Principal
from patron.orders.choices import TcoCategory, TcoRecurrence
from patron.orders.models import Quote
from patron.pipeline.models import Opportunity
from patron.users.models import Team, User

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class QuoteForm(RecordForm):
    model = Quote
    model_fields = [
        "opportunity",
        "name",
        "valid_until",
        "terms",
        "owner",
        "team",
        "tco_years",
        "tco_in_pdf",
    ]
    widgets = {"terms": forms.Textarea(attrs={"rows": 4})}
    labels = {"tco_years": "TCO life span (years)", "tco_in_pdf": "Include the TCO in the PDF"}
    help_texts = {
        "tco_years": "Over how many years the total cost of ownership is computed (1 to 30).",
    }

    opportunity: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=Opportunity.objects.none(),
        help_text="The quote starts with a copy of the opportunity's products.",
    )
    name = forms.CharField(
        max_length=255, required=False, help_text="Blank: “Quote for” and the opportunity's name."
    )
    valid_until = forms.DateField(
        required=False, widget=_DATE, help_text="Blank: today plus the validity set by the admin."
    )
    terms = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Blank on a new quote: the default terms set by the admin.",
    )
    owner: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        label="Owner",
        required=False,
        empty_label="Me",
    )
    team: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, empty_label="No team"
    )

    def __init__(self, data: Any = None, *, user: Principal, **kwargs: Any) -> None:
        super().__init__(data, user=user, **kwargs)
        if self.instance is not None:
            # A quote stays with the opportunity it was made from.
            del self.fields["opportunity"]
            return
        choice = self.fields["opportunity"]
        assert isinstance(choice, forms.ModelChoiceField)
        choice.queryset = (
            Opportunity.objects.visible_to(user).only("id", "name").order_by("name", "id")
        )
        for name in ("tco_years", "tco_in_pdf"):
            del self.fields[name]

    def service_values(self, *, only_changed: bool) -> dict[str, Any]:
        values = super().service_values(only_changed=only_changed)
        if self.instance is None:
            # Blank on a new quote: the policy's defaults apply.
            for name in ("valid_until", "terms", "name"):
                if values.get(name) in (None, ""):
                    values.pop(name, None)
        return values


class QuoteLineForm(forms.Form):
    product = forms.CharField(required=False)
    description = forms.CharField(required=False, max_length=500)
    quantity = forms.CharField(required=False)
    unit_price = forms.CharField(required=False, label="Unit price")
    discount_percent = forms.CharField(required=False, label="Discount %")
    tax_percent = forms.CharField(required=False, label="Tax %")


class TcoItemForm(forms.Form):
    category = forms.ChoiceField(choices=TcoCategory.choices)
    description = forms.CharField(required=False, max_length=255)
    amount = forms.CharField(required=False)
    recurrence = forms.ChoiceField(choices=TcoRecurrence.choices)
    start_year = forms.CharField(required=False, label="First year")
    end_year = forms.CharField(required=False, label="Last year")
    yearly_increase_percent = forms.CharField(required=False, label="Yearly increase %")


class DecisionForm(forms.Form):
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CustomerAnswerForm(forms.Form):
    name = forms.CharField(max_length=200, label="Your name")
    comment = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Comment (optional)"
    )


class QuotePolicyForm(forms.Form):
    approval_discount_percent = forms.CharField(
        label="Approval above this discount (%)",
        help_text="Quotes with a line discounted above this need the owner's manager's approval.",
    )
    default_validity_days = forms.CharField(
        label="Valid for (days)", help_text="New quotes are valid this many days."
    )
    default_terms = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        label="Default terms",
        help_text="Printed on every new quote; the quote's owner may change them.",
    )
