"""Leads for imports (see patron.core.importing), written through the lead services so
routing, scoring and the other lead reactions run as for any new lead."""

from __future__ import annotations

from typing import Any

from patron.core.choices import Via
from patron.core.importing import (
    BOOLEAN,
    CHOICE,
    COUNTRY,
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
    register_import,
)


def _create(user: Any, values: dict[str, Any]) -> Any:
    from patron.leads.choices import LeadSource
    from patron.leads.services import lead_create

    values.setdefault("source", LeadSource.IMPORT)
    return lead_create(user=user, data=values, via=Via.IMPORT)


def _update(user: Any, record: Any, values: dict[str, Any]) -> Any:
    from patron.leads.services import lead_update

    return lead_update(user=user, lead=record, data=values, via=Via.IMPORT)


def register_imports() -> None:
    from patron.leads.choices import LeadSource
    from patron.leads.models import Lead

    register_import(
        ImportSpec(
            object_type=Lead.object_type(),
            label="lead",
            label_plural="leads",
            model=Lead,
            fields=(
                ImportField("salutation", "Salutation", max_length=20),
                ImportField("first_name", "First name", max_length=100, aliases=("firstname",)),
                ImportField(
                    "last_name",
                    "Last name",
                    required=True,
                    max_length=100,
                    aliases=("lastname", "surname"),
                ),
                ImportField("title", "Title", max_length=150, aliases=("job title",)),
                ImportField(
                    "email", "Email", EMAIL, max_length=254, aliases=("e-mail", "email address")
                ),
                ImportField("phone", "Phone", PHONE, aliases=("phone number",)),
                ImportField(
                    "mobile", "Mobile", PHONE, aliases=("mobilephone", "mobile phone number")
                ),
                ImportField(
                    "company", "Company", max_length=255, aliases=("company name", "account")
                ),
                ImportField("website", "Website", URL, max_length=200, aliases=("website url",)),
                ImportField("domain", "Web domain", DOMAIN, max_length=255),
                ImportField("industry", "Industry", max_length=100),
                ImportField(
                    "employee_count",
                    "Employees",
                    INTEGER,
                    aliases=("numberofemployees", "number of employees"),
                ),
                ImportField(
                    "annual_revenue", "Annual revenue", DECIMAL, aliases=("annualrevenue",)
                ),
                ImportField("street", "Street", max_length=300),
                ImportField("city", "City", max_length=100),
                ImportField("region", "Region", max_length=100, aliases=("state", "state/region")),
                ImportField(
                    "postal_code", "Postal code", max_length=20, aliases=("postalcode", "zip")
                ),
                ImportField("country", "Country", COUNTRY, aliases=("country/region",)),
                ImportField("description", "Description", TEXT),
                ImportField(
                    "email_opt_out", "Email opt-out", BOOLEAN, aliases=("hasoptedoutofemail",)
                ),
                ImportField(
                    "source",
                    "Source",
                    CHOICE,
                    choices=tuple(LeadSource.choices),
                    aliases=("leadsource", "lead source"),
                ),
                ImportField("source_detail", "Source detail", max_length=255),
                ImportField("campaign", "Campaign", max_length=150),
                ImportField(
                    "external_id",
                    "External id",
                    max_length=100,
                    aliases=("id", "lead id", "record id"),
                    help="The lead's id in the system the file comes from.",
                ),
                ImportField(
                    "owner",
                    "Owner",
                    RELATED,
                    resolver="user",
                    aliases=("lead owner", "contact owner"),
                ),
            ),
            match_keys=(
                MatchKey("email", "Email", "email", EMAIL),
                MatchKey("external_id", "External id", "external_id", TEXT),
                MatchKey("id", "Patron id", "id", INTEGER),
            ),
            # Lead sources are left out: Salesforce's picklist values ("Web", "Phone
            # Inquiry") are not Patron's, so mapping them would fail the rows.
            presets={
                "salesforce": {
                    "Id": "external_id",
                    "Lead ID": "external_id",
                    "Salutation": "salutation",
                    "FirstName": "first_name",
                    "LastName": "last_name",
                    "Title": "title",
                    "Company": "company",
                    "Email": "email",
                    "Phone": "phone",
                    "MobilePhone": "mobile",
                    "Website": "website",
                    "Industry": "industry",
                    "NumberOfEmployees": "employee_count",
                    "AnnualRevenue": "annual_revenue",
                    "Street": "street",
                    "City": "city",
                    "State": "region",
                    "PostalCode": "postal_code",
                    "Country": "country",
                    "Description": "description",
                    "HasOptedOutOfEmail": "email_opt_out",
                },
                # A HubSpot contacts export, for contacts that are leads there.
                "hubspot": {
                    "Record ID": "external_id",
                    "Contact ID": "external_id",
                    "First Name": "first_name",
                    "Last Name": "last_name",
                    "Job Title": "title",
                    "Company Name": "company",
                    "Email": "email",
                    "Phone Number": "phone",
                    "Mobile Phone Number": "mobile",
                    "Website URL": "website",
                    "Industry": "industry",
                    "City": "city",
                    "State/Region": "region",
                    "Postal Code": "postal_code",
                    "Country/Region": "country",
                    "Contact owner": "owner",
                },
            },
            create_one=_create,
            update_one=_update,
        )
    )
