"""Wires duplicates and merge into Patron: the objects rules can be written for and the
duplicate check every create runs (core.records.register_create_check)."""

from __future__ import annotations

from patron.data_exchange.duplicate_matching import DuplicateObject, register_duplicate_object

OBJECTS = (
    DuplicateObject(
        "contacts.contact",
        "Contacts",
        block_field="last_name",
        display_fields=(
            "first_name",
            "last_name",
            "salutation",
            "title",
            "department",
            "account",
            "email",
            "phone",
            "language",
            "time_zone",
            "birthdate",
            "description",
            "owner",
        ),
        aliases=("contacts",),
    ),
    DuplicateObject(
        "contacts.account",
        "Accounts",
        block_field="name",
        display_fields=(
            "name",
            "kind",
            "email",
            "phone",
            "website",
            "domain",
            "industry",
            "employee_count",
            "annual_revenue",
            "tier",
            "parent",
            "billing_street",
            "billing_city",
            "billing_region",
            "billing_postal_code",
            "billing_country",
            "description",
            "owner",
        ),
        aliases=("accounts", "companies", "company"),
    ),
    DuplicateObject(
        "leads.lead",
        "Leads",
        block_field="last_name",
        display_fields=(
            "first_name",
            "last_name",
            "company",
            "title",
            "email",
            "phone",
            "website",
            "domain",
            "status",
            "source",
            "city",
            "region",
            "country",
            "owner",
        ),
        aliases=("leads",),
    ),
    DuplicateObject(
        "orders.product",
        "Products",
        block_field="name",
        display_fields=("name", "sku", "family", "description", "unit", "billing", "active"),
        aliases=("products",),
    ),
)


def register() -> None:
    # duplicate_scan holds the Celery tasks; importing it lets the worker know them.
    from patron.core import records
    from patron.core.context_processors import NavItem, register_nav_item
    from patron.data_exchange import duplicate_scan, duplicate_services

    for spec in OBJECTS:
        register_duplicate_object(spec)
    records.register_create_check(duplicate_services.check_create)
    duplicate_scan.register()
    register_nav_item(
        NavItem(
            area="Workspace", label="Duplicates", url_name="data_exchange:duplicate_list", order=65
        )
    )
