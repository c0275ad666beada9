"""Accounts (companies or B2C persons) and contacts with typed emails, phones, addresses."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from patron.contacts.choices import (
    AccountKind,
    AccountTier,
    AddressKind,
    CompetitorStatus,
    ConsentPurpose,
    ConsentSource,
    ConsentStatus,
    EmailKind,
    LiteratureChannel,
    PhoneKind,
    SubscriptionKind,
    SubscriptionStatus,
    TrainingResult,
)
from patron.core.models import BusinessRecord


class Address(models.Model):
    street = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 country code")

    class Meta:
        abstract = True

    def one_line(self) -> str:
        parts = [self.street, self.postal_code, self.city, self.region, self.country]
        return ", ".join(p for p in parts if p)


class Account(BusinessRecord):
    kind = models.CharField(max_length=10, choices=AccountKind.choices, default=AccountKind.COMPANY)
    name = models.CharField(max_length=255)
    # Person-account fields (B2C): the account is the customer and the person at once.
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True, db_index=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    website = models.URLField(blank=True)
    domain = models.CharField(max_length=255, blank=True, db_index=True)
    industry = models.CharField(max_length=100, blank=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    revenue_currency = models.CharField(max_length=3, blank=True)
    tier = models.CharField(max_length=10, choices=AccountTier.choices, blank=True)
    year_established = models.PositiveSmallIntegerField(null=True, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    billing_street = models.CharField(max_length=300, blank=True)
    billing_city = models.CharField(max_length=100, blank=True)
    billing_region = models.CharField(max_length=100, blank=True)
    billing_postal_code = models.CharField(max_length=20, blank=True)
    billing_country = models.CharField(max_length=2, blank=True)
    description = models.TextField(blank=True)
    # The record's id in the system it was imported from (Salesforce, HubSpot...): the
    # match key that re-imports and related-record lookups use.
    external_id = models.CharField(max_length=100, blank=True, db_index=True)

    SENSITIVE_FIELDS: ClassVar[frozenset[str]] = frozenset({"annual_revenue"})

    class Meta:
        indexes = [
            models.Index(fields=["name", "id"], name="account_name_keyset"),
            models.Index(fields=["owner", "name", "id"], name="account_owner_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(BusinessRecord):
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100)
    salutation = models.CharField(max_length=20, blank=True)
    title = models.CharField(max_length=150, blank=True)
    department = models.CharField(max_length=150, blank=True)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    # Primary email and phone are kept here as well for fast lists, search and matching.
    email = models.EmailField(blank=True, db_index=True)
    phone = models.CharField(max_length=20, blank=True, db_index=True, help_text="E.164")
    language = models.CharField(max_length=10, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    birthdate = models.DateField(null=True, blank=True)
    social = models.JSONField(default=dict, blank=True)
    do_not_call = models.BooleanField(default=False)
    email_opt_out = models.BooleanField(default=False)
    description = models.TextField(blank=True)
    # The record's id in the system it was imported from (Salesforce, HubSpot...): the
    # match key that re-imports and related-record lookups use.
    external_id = models.CharField(max_length=100, blank=True, db_index=True)

    SENSITIVE_FIELDS: ClassVar[frozenset[str]] = frozenset({"birthdate"})

    class Meta:
        indexes = [
            models.Index(fields=["last_name", "first_name", "id"], name="contact_name_keyset"),
            models.Index(fields=["owner", "last_name", "id"], name="contact_owner_name"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


class ContactEmail(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    kind = models.CharField(max_length=10, choices=EmailKind.choices, default=EmailKind.WORK)
    email = models.EmailField(db_index=True)
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact"],
                condition=models.Q(is_primary=True),
                name="one_primary_email_per_contact",
            )
        ]


class ContactPhone(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="phones")
    kind = models.CharField(max_length=10, choices=PhoneKind.choices, default=PhoneKind.WORK)
    number = models.CharField(max_length=20, db_index=True, help_text="E.164")
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact"],
                condition=models.Q(is_primary=True),
                name="one_primary_phone_per_contact",
            )
        ]


class ContactAddress(Address):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(max_length=10, choices=AddressKind.choices, default=AddressKind.WORK)
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact"],
                condition=models.Q(is_primary=True),
                name="one_primary_address_per_contact",
            )
        ]


class AccountTeamRole(models.TextChoices):
    ACCOUNT_MANAGER = "account_manager", "Account manager"
    SALES_ENGINEER = "sales_engineer", "Sales engineer"
    SUPPORT = "support", "Support"
    EXECUTIVE_SPONSOR = "executive_sponsor", "Executive sponsor"
    OTHER = "other", "Other"


class TeamAccess(models.TextChoices):
    READ = "read", "Read"
    EDIT = "edit", "Read and edit"


class AccountTeamMember(models.Model):
    """A user working on an account; membership widens visibility (see contacts.structure)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="team_members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_memberships"
    )
    team_role = models.CharField(max_length=20, choices=AccountTeamRole.choices)
    access = models.CharField(max_length=4, choices=TeamAccess.choices, default=TeamAccess.READ)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="one_membership_per_account")
        ]
        indexes = [models.Index(fields=["user", "access"], name="account_team_user_access")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_team_role_display()}, {self.get_access_display()})"


class ContactRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", "Decision maker"
    ECONOMIC_BUYER = "economic_buyer", "Economic buyer"
    TECHNICAL_BUYER = "technical_buyer", "Technical buyer"
    INFLUENCER = "influencer", "Influencer"
    CHAMPION = "champion", "Champion"
    USER = "user", "User"
    GATEKEEPER = "gatekeeper", "Gatekeeper"
    OTHER = "other", "Other"


class AccountContactRelation(models.Model):
    """A contact's place at an account: roles, responsibilities, dates and whom they report to.

    A contact may relate to several accounts; the primary relation is the contact's
    ``account``. Writes go through services (relation_add, ...), which keep both in sync.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contact_relations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="account_relations")
    roles = models.JSONField(default=list, blank=True, help_text="ContactRole values")
    responsibilities = models.TextField(blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    is_primary = models.BooleanField(default=False)
    reports_to = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "contact"], name="one_relation_per_pair"),
            models.UniqueConstraint(
                fields=["contact"],
                condition=models.Q(is_primary=True),
                name="one_primary_relation_per_contact",
            ),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True)
                | models.Q(start_date__isnull=True)
                | models.Q(end_date__gte=models.F("start_date")),
                name="relation_ends_after_it_starts",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} at {self.account_id}"

    def role_labels(self) -> list[str]:
        labels = dict(ContactRole.choices)
        return [str(labels.get(role, role)) for role in self.roles]

    @property
    def state(self) -> str:
        """Active, Ended or Not started, as of today in the active time zone."""
        today = timezone.localdate()
        if self.end_date is not None and self.end_date < today:
            return "Ended"
        if self.start_date is not None and self.start_date > today:
            return "Not started"
        return "Active"


class Competitor(BusinessRecord):
    """A company we compete with: what it is good and bad at, and what it sells."""

    name = models.CharField(max_length=255)
    website = models.URLField(blank=True)
    strengths = models.TextField(blank=True)
    weaknesses = models.TextField(blank=True)
    # Free text, one product per line: competitors' catalogues are not ours to model.
    products = models.TextField(blank=True)
    description = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["name", "id"], name="competitor_name_keyset")]

    def __str__(self) -> str:
        return self.name

    def product_list(self) -> list[str]:
        return [line.strip() for line in self.products.splitlines() if line.strip()]


class AccountCompetitor(models.Model):
    """A competitor present at an account, with what it sells there."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="competitors")
    competitor = models.ForeignKey(Competitor, on_delete=models.CASCADE, related_name="accounts")
    status = models.CharField(
        max_length=20, choices=CompetitorStatus.choices, default=CompetitorStatus.INCUMBENT
    )
    products_sold = models.TextField(blank=True, help_text="What the competitor sells there")
    contract_end = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "competitor"], name="uniq_account_competitor"
            )
        ]
        indexes = [models.Index(fields=["competitor", "account"], name="competitor_accounts")]


class ContactRelatedRow(models.Model):
    """Base of the rows listed on a contact (its related lists); they live and die with it."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True


class ContactConsent(ContactRelatedRow):
    """The contact's answer for one purpose (GDPR art. 7: who, what, when, how)."""

    purpose = models.CharField(max_length=30, choices=ConsentPurpose.choices)
    status = models.CharField(max_length=20, choices=ConsentStatus.choices)
    source = models.CharField(max_length=20, choices=ConsentSource.choices)
    recorded_at = models.DateTimeField(default=timezone.now)
    evidence = models.TextField(blank=True, help_text="Form URL, email id, call notes, ...")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "purpose"], name="uniq_contact_consent")
        ]


class CompetitorProductOwned(ContactRelatedRow):
    product = models.CharField(max_length=255)
    competitor = models.ForeignKey(
        Competitor, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    since = models.DateField(null=True, blank=True)
    contract_end = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["contact", "product"], name="contact_competitor_product")]


class LiteratureRequest(ContactRelatedRow):
    item = models.CharField(max_length=255)
    channel = models.CharField(max_length=20, choices=LiteratureChannel.choices)
    requested_on = models.DateField(default=timezone.localdate)
    fulfilled_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["contact", "requested_on"], name="contact_literature")]


class Subscription(ContactRelatedRow):
    name = models.CharField(max_length=255, help_text="The mailing list or product")
    kind = models.CharField(max_length=10, choices=SubscriptionKind.choices)
    status = models.CharField(max_length=20, choices=SubscriptionStatus.choices)
    opt_in_source = models.CharField(max_length=20, choices=ConsentSource.choices, blank=True)
    opt_in_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "kind", "name"], name="uniq_contact_subscription"
            )
        ]


class TrainingAttendance(ContactRelatedRow):
    course = models.CharField(max_length=255)
    attended_on = models.DateField()
    result = models.CharField(max_length=20, choices=TrainingResult.choices)
    certificate = models.CharField(max_length=255, blank=True, help_text="Certificate number")
    notes = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["contact", "attended_on"], name="contact_training")]


class ContactConsentChange(models.Model):
    """One consent answer as it was recorded: the history behind ``ContactConsent``.

    Every answer adds a row and nothing here is ever edited, except that erasing the person
    clears ``source_detail``. The current answer per purpose is the latest row (and the
    ``ContactConsent`` row, which the services keep equal to it). ``purpose`` takes the values of
    ``patron.contacts.consent.consent_purposes()``, so later apps can add purposes.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_changes")
    purpose = models.CharField(max_length=30)
    status = models.CharField(max_length=20, choices=ConsentStatus.choices)
    source = models.CharField(max_length=20, choices=ConsentSource.choices)
    source_detail = models.TextField(blank=True)
    # When the person gave the answer (may be earlier than when it was recorded here).
    given_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(max_length=10, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(
                fields=["contact", "purpose", "-recorded_at", "-id"], name="contact_consent_history"
            )
        ]
