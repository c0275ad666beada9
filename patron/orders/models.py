"""Products, price books, opportunity line items, quotes with lines and TCO items."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from patron.core.models import BusinessRecord
from patron.orders.choices import (
    BillingType,
    QuoteStatus,
    RecurringPeriod,
    TcoCategory,
    TcoRecurrence,
)


class Product(BusinessRecord):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    family = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    unit = models.CharField(max_length=30, default="each")
    billing = models.CharField(
        max_length=10, choices=BillingType.choices, default=BillingType.ONE_TIME
    )
    recurring_period = models.CharField(max_length=10, choices=RecurringPeriod.choices, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["name", "id"], name="product_name_keyset")]

    def __str__(self) -> str:
        return self.name


class PriceBook(models.Model):
    """List prices in one currency, optionally for one segment (e.g. "Public sector")."""

    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=3)
    segment = models.CharField(max_length=100, blank=True)
    is_standard = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["name", "currency"], name="uniq_price_book")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"


class PriceBookEntry(models.Model):
    price_book = models.ForeignKey(PriceBook, on_delete=models.CASCADE, related_name="entries")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    list_price = models.DecimalField(max_digits=18, decimal_places=2)
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "price book entries"
        constraints = [
            models.UniqueConstraint(fields=["price_book", "product"], name="uniq_price_entry")
        ]


class LineFields(models.Model):
    """What an opportunity line and a quote line share; totals are computed by the services."""

    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(max_length=500, blank=True)
    quantity = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("1"))
    unit_price = models.DecimalField(max_digits=18, decimal_places=2)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    line_total = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    position = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class OpportunityLineItem(LineFields):
    opportunity = models.ForeignKey(
        "pipeline.Opportunity", on_delete=models.CASCADE, related_name="line_items"
    )

    class Meta:
        ordering = ["opportunity", "position", "id"]
        indexes = [models.Index(fields=["product", "opportunity"], name="opp_line_product")]


class Quote(BusinessRecord):
    opportunity = models.ForeignKey(
        "pipeline.Opportunity", on_delete=models.PROTECT, related_name="quotes"
    )
    number = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=20, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT)
    currency = models.CharField(max_length=3)
    price_book = models.ForeignKey(
        PriceBook, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    valid_until = models.DateField()
    terms = models.TextField(blank=True)
    subtotal = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    discount_total = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    tax_total = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    total = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0"))
    # Highest line discount; above the policy threshold the quote needs approval.
    max_discount_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("0")
    )
    approval_requested_at = models.DateTimeField(null=True, blank=True)
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    # The customer's link: only a digest of its secret is stored.
    acceptance_token_digest = models.CharField(max_length=64, blank=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    customer_responded_at = models.DateTimeField(null=True, blank=True)
    customer_name = models.CharField(max_length=200, blank=True)
    customer_comment = models.TextField(blank=True)
    synced_to_opportunity_at = models.DateTimeField(null=True, blank=True)
    tco_years = models.PositiveSmallIntegerField(null=True, blank=True)
    tco_in_pdf = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["opportunity", "created_at"], name="quote_opportunity"),
            models.Index(fields=["status", "valid_until"], name="quote_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class QuoteLine(LineFields):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    tax_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))

    class Meta:
        ordering = ["quote", "position", "id"]


class TcoItem(models.Model):
    """A cost in a quote's total cost of ownership over its life span (``Quote.tco_years``)."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="tco_items")
    category = models.CharField(max_length=20, choices=TcoCategory.choices)
    description = models.CharField(max_length=255, blank=True)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    recurrence = models.CharField(max_length=10, choices=TcoRecurrence.choices)
    # Years are 1-based; a recurring cost runs from start_year to end_year (or the span's end).
    start_year = models.PositiveSmallIntegerField(default=1)
    end_year = models.PositiveSmallIntegerField(null=True, blank=True)
    # Yearly growth of a recurring cost (e.g. 3 % price increase), compounded.
    yearly_increase_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("0")
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["quote", "position", "id"]


class QuotePolicy(models.Model):
    """The single row of quote rules the administrator sets."""

    approval_discount_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("20"),
        help_text="Quotes with a line discount above this need the owner's manager's approval.",
    )
    default_validity_days = models.PositiveSmallIntegerField(default=30)
    default_terms = models.TextField(blank=True)
    next_number = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "quote policy"
