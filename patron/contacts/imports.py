"""Accounts and contacts for imports (see patron.core.importing): fields with the header
names of Salesforce and HubSpot exports, match keys, the account resolver and the batch hook
that keeps a contact's primary email/phone rows and account relation in step."""

from __future__ import annotations

from typing import Any

from django.db import models

from patron.core.importing import (
    BOOLEAN,
    CHOICE,
    COUNTRY,
    DATE,
    DECIMAL,
    DOMAIN,
    EMAIL,
    INTEGER,
    PHONE,
    RELATED,
    TEXT,
    URL,
    ImportField,
    ImportSpec,
    MatchKey,
    Resolver,
    register_import,
    register_resolver,
)
from patron.core.values import normalize_domain

OWNER = ImportField(
    "owner",
    "Owner",
    RELATED,
    resolver="user",
    aliases=("owner email", "contact owner", "company owner", "record owner", "sales_agent"),
    help="The user's email or full name; empty means you.",
)


def _prepare_account(user: Any, values: dict[str, Any], existing: Any) -> dict[str, Any]:
    # Field-level security is checked by the import engine once per batch.
    if (
        values.get("website")
        and not values.get("domain")
        and (existing is None or not existing.domain)
    ):
        values["domain"] = normalize_domain(values["website"])
    return values


def _contacts_written(user: Any, created: list[Any], updated: list[Any]) -> None:
    """Primary email/phone rows and the primary account relation, in bulk for new contacts."""
    from patron.contacts.models import AccountContactRelation, ContactEmail, ContactPhone
    from patron.contacts.services import _sync_primary_channels, _sync_primary_relation

    emails = [ContactEmail(contact=c, email=c.email, is_primary=True) for c in created if c.email]
    phones = [ContactPhone(contact=c, number=c.phone, is_primary=True) for c in created if c.phone]
    ContactEmail.objects.bulk_create(emails)
    ContactPhone.objects.bulk_create(phones)
    # A new contact has exactly these rows: cached, so search indexing reads none back.
    _cache_children(created, "emails", ContactEmail, emails)
    _cache_children(created, "phones", ContactPhone, phones)
    AccountContactRelation.objects.bulk_create(
        [
            AccountContactRelation(contact=c, account_id=c.account_id, is_primary=True)
            for c in created
            if c.account_id
        ]
    )
    if not updated:
        return
    # Updated contacts: three reads per batch find those whose primary rows already match
    # (the usual case); only the others are synced, row by row as the services do.
    ids = [c.pk for c in updated]
    email_of = dict(
        ContactEmail.objects.filter(contact_id__in=ids, is_primary=True).values_list(
            "contact_id", "email"
        )
    )
    phone_of = dict(
        ContactPhone.objects.filter(contact_id__in=ids, is_primary=True).values_list(
            "contact_id", "number"
        )
    )
    account_of = dict(
        AccountContactRelation.objects.filter(contact_id__in=ids, is_primary=True).values_list(
            "contact_id", "account_id"
        )
    )
    for contact in updated:
        if (contact.email and email_of.get(contact.pk) != contact.email) or (
            contact.phone and phone_of.get(contact.pk) != contact.phone
        ):
            _sync_primary_channels(contact)
        if account_of.get(contact.pk) != contact.account_id:
            _sync_primary_relation(contact)


def _cache_children(
    parents: list[Any], name: str, model: type[models.Model], children: list[Any]
) -> None:
    """Fill ``parent.<name>.all()`` of each new parent with the rows just written."""
    by_parent: dict[int, list[Any]] = {}
    for child in children:
        by_parent.setdefault(child.contact_id, []).append(child)
    # One queryset built, then copied per parent (sharing its never-run query): building a
    # QuerySet per contact cost more than the prefetch it saves.
    template: models.QuerySet[Any] = models.QuerySet(model=model)
    template._prefetch_done = True  # type: ignore[attr-defined]
    for parent in parents:
        queryset = object.__new__(models.QuerySet)
        queryset.__dict__.update(template.__dict__)
        queryset._result_cache = by_parent.get(parent.pk, [])
        parent.__dict__.setdefault("_prefetched_objects_cache", {})[name] = queryset


def _accounts(user: Any) -> models.QuerySet[Any]:
    from patron.contacts.models import Account
    from patron.core.choices import Action

    return Account.objects.visible_to(user, Action.READ)


def register_imports() -> None:
    from patron.contacts.choices import AccountKind, AccountTier
    from patron.contacts.models import Account, Contact

    register_resolver(
        Resolver(
            name="account",
            label="account",
            model=Account,
            # Salesforce's AccountId and HubSpot's company ids find accounts imported
            # from there by their external id.
            lookups=(("id", INTEGER), ("external_id", TEXT), ("domain", DOMAIN), ("name", TEXT)),
            case_insensitive=frozenset({"name"}),
            queryset=_accounts,
        )
    )
    register_resolver(
        Resolver(
            name="contact",
            label="contact",
            model=Contact,
            lookups=(("id", INTEGER), ("external_id", TEXT), ("email", EMAIL)),
        )
    )
    register_import(
        ImportSpec(
            object_type=Account.object_type(),
            label="account",
            label_plural="accounts",
            model=Account,
            fields=(
                ImportField(
                    "name",
                    "Account name",
                    required=True,
                    max_length=255,
                    aliases=("account", "company", "company name", "organization", "name"),
                ),
                ImportField("kind", "Kind", CHOICE, choices=tuple(AccountKind.choices)),
                ImportField(
                    "website", "Website", URL, max_length=200, aliases=("website url", "url")
                ),
                ImportField(
                    "domain",
                    "Web domain",
                    DOMAIN,
                    max_length=255,
                    aliases=("company domain name", "domain name"),
                ),
                ImportField("industry", "Industry", max_length=100, aliases=("sector",)),
                ImportField(
                    "employee_count",
                    "Employees",
                    INTEGER,
                    aliases=("employees", "numberofemployees", "number of employees"),
                ),
                ImportField(
                    "annual_revenue",
                    "Annual revenue",
                    DECIMAL,
                    aliases=("revenue", "annualrevenue"),
                ),
                ImportField(
                    "revenue_currency",
                    "Revenue currency",
                    max_length=3,
                    aliases=("currencyisocode", "currency"),
                ),
                ImportField("tier", "Tier", CHOICE, choices=tuple(AccountTier.choices)),
                ImportField(
                    "year_established",
                    "Year established",
                    INTEGER,
                    aliases=("founded year", "year founded"),
                ),
                ImportField(
                    "parent",
                    "Parent account",
                    RELATED,
                    resolver="account",
                    aliases=("subsidiary_of", "parent company", "parentid"),
                ),
                ImportField("email", "Email", EMAIL, max_length=254),
                ImportField("phone", "Phone", PHONE, aliases=("phone number",)),
                ImportField(
                    "billing_street",
                    "Billing street",
                    max_length=300,
                    aliases=("billingstreet", "street address", "address"),
                ),
                ImportField(
                    "billing_city", "Billing city", max_length=100, aliases=("billingcity", "city")
                ),
                ImportField(
                    "billing_region",
                    "Billing region",
                    max_length=100,
                    aliases=("billingstate", "state/region", "state"),
                ),
                ImportField(
                    "billing_postal_code",
                    "Billing postal code",
                    max_length=20,
                    aliases=("billingpostalcode", "postal code", "zip"),
                ),
                ImportField(
                    "billing_country",
                    "Billing country",
                    COUNTRY,
                    aliases=("billingcountry", "country/region", "country", "office_location"),
                ),
                ImportField("description", "Description", TEXT, aliases=("about",)),
                ImportField(
                    "external_id",
                    "External id",
                    max_length=100,
                    aliases=("id", "account id", "record id", "company id"),
                    help="The account's id in the system the file comes from.",
                ),
                OWNER,
            ),
            match_keys=(
                MatchKey("domain", "Web domain", "domain", DOMAIN),
                MatchKey("name", "Account name", "name", TEXT, case_insensitive=True),
                MatchKey("email", "Email", "email", EMAIL),
                MatchKey("external_id", "External id", "external_id", TEXT),
                MatchKey("id", "Patron id", "id", INTEGER),
            ),
            presets={
                "salesforce": {
                    "Id": "external_id",
                    "Account ID": "external_id",
                    "Name": "name",
                    "Type": "kind",
                    "Website": "website",
                    "Industry": "industry",
                    "NumberOfEmployees": "employee_count",
                    "AnnualRevenue": "annual_revenue",
                    "Phone": "phone",
                    "BillingStreet": "billing_street",
                    "BillingCity": "billing_city",
                    "BillingState": "billing_region",
                    "BillingPostalCode": "billing_postal_code",
                    "BillingCountry": "billing_country",
                    "Description": "description",
                    "CurrencyIsoCode": "revenue_currency",
                },
                "hubspot": {
                    "Record ID": "external_id",
                    "Company ID": "external_id",
                    "Company name": "name",
                    "Company Domain Name": "domain",
                    "Website URL": "website",
                    "Industry": "industry",
                    "Number of Employees": "employee_count",
                    "Annual Revenue": "annual_revenue",
                    "Phone Number": "phone",
                    "Street Address": "billing_street",
                    "City": "billing_city",
                    "State/Region": "billing_region",
                    "Postal Code": "billing_postal_code",
                    "Country/Region": "billing_country",
                    "Description": "description",
                    "Year Founded": "year_established",
                    "Company owner": "owner",
                },
            },
            prepare=_prepare_account,
            duplicate_keys={"name": "name", "website": "website", "domain": "domain"},
        )
    )
    register_import(
        ImportSpec(
            object_type=Contact.object_type(),
            label="contact",
            label_plural="contacts",
            model=Contact,
            fields=(
                ImportField(
                    "first_name", "First name", max_length=100, aliases=("firstname", "given name")
                ),
                ImportField(
                    "last_name",
                    "Last name",
                    required=True,
                    max_length=100,
                    aliases=("lastname", "surname", "family name"),
                ),
                ImportField("salutation", "Salutation", max_length=20),
                ImportField("title", "Title", max_length=150, aliases=("job title", "position")),
                ImportField("department", "Department", max_length=150),
                ImportField(
                    "account",
                    "Account",
                    RELATED,
                    resolver="account",
                    aliases=(
                        "account name",
                        "company",
                        "company name",
                        "accountid",
                        "associated company",
                    ),
                ),
                ImportField(
                    "email", "Email", EMAIL, max_length=254, aliases=("e-mail", "email address")
                ),
                ImportField(
                    "phone",
                    "Phone",
                    PHONE,
                    aliases=(
                        "phone number",
                        "business phone",
                        "mobilephone",
                        "mobile phone number",
                    ),
                ),
                ImportField("language", "Language", max_length=10, aliases=("preferred language",)),
                ImportField("time_zone", "Time zone", max_length=64),
                ImportField("birthdate", "Birthdate", DATE, aliases=("birthday", "date of birth")),
                ImportField("do_not_call", "Do not call", BOOLEAN, aliases=("donotcall",)),
                ImportField(
                    "email_opt_out",
                    "Email opt-out",
                    BOOLEAN,
                    aliases=("hasoptedoutofemail", "unsubscribed from all email"),
                ),
                ImportField("description", "Description", TEXT),
                ImportField(
                    "external_id",
                    "External id",
                    max_length=100,
                    aliases=("id", "contact id", "record id"),
                    help="The contact's id in the system the file comes from.",
                ),
                OWNER,
            ),
            match_keys=(
                MatchKey("email", "Email", "email", EMAIL),
                MatchKey("phone", "Phone", "phone", PHONE),
                MatchKey("external_id", "External id", "external_id", TEXT),
                MatchKey("id", "Patron id", "id", INTEGER),
            ),
            presets={
                "salesforce": {
                    "Id": "external_id",
                    "Contact ID": "external_id",
                    "FirstName": "first_name",
                    "LastName": "last_name",
                    "Salutation": "salutation",
                    "Title": "title",
                    "Department": "department",
                    "Email": "email",
                    "Phone": "phone",
                    "Birthdate": "birthdate",
                    "DoNotCall": "do_not_call",
                    "HasOptedOutOfEmail": "email_opt_out",
                    "Description": "description",
                    "AccountId": "account",
                },
                "hubspot": {
                    "Record ID": "external_id",
                    "Contact ID": "external_id",
                    "First Name": "first_name",
                    "Last Name": "last_name",
                    "Email": "email",
                    "Phone Number": "phone",
                    "Job Title": "title",
                    "Company Name": "account",
                    "Contact owner": "owner",
                    "Preferred language": "language",
                },
            },
            after_write=_contacts_written,
            search_prefetch=("emails", "phones", "account"),
        )
    )
