"""Forms for products, price books and opportunity line items: they type-check input; the
services validate and write."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from patron.core.forms import RecordForm
from patron.core.record_pages import BulkEditForm
from patron.orders.models import Product
from patron.users.models import Team, User

_YES_NO = [("", "Keep"), ("true", "Active"), ("false", "Inactive")]


class ProductForm(RecordForm):
    model = Product
    model_fields = [
        "sku",
        "name",
        "family",
        "unit",
        "billing",
        "recurring_period",
        "active",
        "owner",
        "team",
        "description",
    ]
    widgets = {"description": forms.Textarea(attrs={"rows": 3})}
    labels = {"sku": "SKU", "recurring_period": "Billing period"}
    help_texts = {
        "sku": "The stock-keeping code; unique, whatever its case.",
        "recurring_period": "Only for recurring products: how often they are billed.",
        "active": "Inactive products cannot be added to opportunities.",
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
    unit = forms.CharField(
        max_length=30,
        required=False,
        help_text="How the product is counted, e.g. each, seat, hour (blank: each).",
    )


class ProductBulkEditForm(BulkEditForm):
    active = forms.TypedChoiceField(
        choices=_YES_NO,
        coerce=lambda value: value == "true",
        empty_value=None,
        required=False,
        label="Set active",
    )
    family = forms.CharField(max_length=100, required=False, label="Set family")


class PriceBookForm(forms.Form):
    name = forms.CharField(max_length=100)
    currency = forms.CharField(
        min_length=3, max_length=3, help_text="Three letters, e.g. EUR or USD."
    )
    segment = forms.CharField(
        max_length=100, required=False, help_text="Optional, e.g. Public sector or Partners."
    )
    is_standard = forms.BooleanField(
        required=False,
        label="Standard price book",
        help_text="Line items take their price from the standard book of their currency first.",
    )
    active = forms.BooleanField(required=False, initial=True)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PriceBookEntryForm(forms.Form):
    product = forms.IntegerField(min_value=1, label="Product")
    list_price = forms.DecimalField(
        min_value=Decimal("0"), max_digits=18, decimal_places=2, label="List price"
    )
    active = forms.BooleanField(required=False, initial=True)


class LineItemForm(forms.Form):
    """One opportunity line; a blank unit price takes the product's list price."""

    product = forms.IntegerField(min_value=1, label="Product")
    description = forms.CharField(max_length=500, required=False)
    quantity = forms.DecimalField(max_digits=14, decimal_places=2, initial=Decimal("1"))
    unit_price = forms.DecimalField(
        max_digits=18,
        decimal_places=2,
        required=False,
        label="Unit price",
        help_text="Leave blank for the list price in the opportunity's currency.",
    )
    discount_percent = forms.DecimalField(
        max_digits=5, decimal_places=2, required=False, initial=Decimal("0"), label="Discount %"
    )
    use_for_amount = forms.BooleanField(required=False, label="Use line items for the amount")

    def service_fields(self) -> dict[str, Any]:
        values = {name: self.cleaned_data[name] for name in self.fields if name != "use_for_amount"}
        if values["discount_percent"] is None:
            values["discount_percent"] = Decimal("0")
        return values
