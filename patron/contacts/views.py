"""Account and contact pages: the shared record pages (core.record_pages) configured for
both objects, plus what only they show (related lists, team, hierarchy, duplicates).
"""

from __future__ import annotations

from typing import Any

from patron.contacts import selectors, services
from patron.contacts.filters import ACCOUNT_SORTS, CONTACT_SORTS, AccountFilter, ContactFilter
from patron.contacts.forms import AccountBulkEditForm, AccountForm, ContactForm
from patron.contacts.models import Account, AccountTeamRole, Contact, TeamAccess
from patron.contacts.rollups import rollup_figures
from patron.core.choices import Action
from patron.core.context_processors import NavItem, register_nav_item
from patron.core.record_pages import Column, ObjectUI, RecordPages, ToolbarLink
from patron.core.views import Recyclable, register_recyclable
from patron.users.models import User

RELATED_LIMIT = 25
TEAM_CANDIDATE_LIMIT = 500


def _detail_related(user: User, record: Any, *, can_edit: bool) -> dict[str, Any]:
    if isinstance(record, Contact):
        return {"account_relations": selectors.contact_relation_list(user=user, contact=record)}
    if not isinstance(record, Account):
        return {}
    contacts = (
        Contact.objects.visible_to(user)
        .filter(account=record)
        .select_related("owner")
        .only(
            "id",
            "first_name",
            "last_name",
            "title",
            "email",
            "phone",
            "owner__full_name",
            "owner__email",
            "owner",
        )
        .order_by("last_name", "first_name", "id")[: RELATED_LIMIT + 1]
    )
    contact_rows = list(contacts)
    hierarchy = selectors.account_hierarchy(user=user, account=record)
    # The hierarchy already knows whether the user may see the parent.
    parent_node = hierarchy.ancestors[-1] if hierarchy.ancestors else None
    parent = record.parent if parent_node is not None and parent_node.visible else None
    return {
        **_account_team(record, may_edit=can_edit),
        "relations": selectors.account_relation_list(user=user, account=record),
        "related_contacts": contact_rows[:RELATED_LIMIT],
        "more_contacts": len(contact_rows) > RELATED_LIMIT,
        "hierarchy": hierarchy,
        "rollups": rollup_figures(account_id=record.pk, subtree_ids=hierarchy.subtree_ids),
        "parent": parent,
    }


def _account_team(account: Account, *, may_edit: bool) -> dict[str, Any]:
    """The account team card: members, and for editors the users they may add."""
    members = selectors.account_team_list(account=account)
    candidates: list[User] = []
    if may_edit:
        taken = {m.user_id for m in members}
        candidates = [
            u
            for u in User.objects.filter(is_active=True).order_by("full_name", "email")[
                :TEAM_CANDIDATE_LIMIT
            ]
            if u.pk not in taken
        ]
    return {
        "team_members": members,
        "team_candidates": candidates,
        "team_roles": AccountTeamRole.choices,
        "team_access_levels": TeamAccess.choices,
        "may_edit_team": may_edit,
    }


def _contact_duplicates(user: User, values: dict[str, Any]) -> dict[str, Any]:
    matches = selectors.contact_duplicates(
        email=values.get("email") or "", phone=values.get("phone") or ""
    )
    ids = [m.pk for m in matches]
    visible = list(Contact.objects.visible_to(user).filter(pk__in=ids).select_related("account"))
    return {"visible": visible, "hidden_count": len(ids) - len(visible)}


ACCOUNTS = ObjectUI(
    key="account",
    model=Account,
    label="Account",
    label_plural="Accounts",
    filterset=AccountFilter,
    sorts=ACCOUNT_SORTS,
    default_sort="name",
    selector=selectors.account_list,
    getter=selectors.account_get,
    create=services.account_create,
    update=services.account_update,
    delete=services.account_delete,
    form_class=AccountForm,
    columns=(
        Column("name", "Name", sort="name", cell="contacts/cells/account_name.html"),
        Column("industry", "Industry", css="hide-sm"),
        Column("tier", "Tier", cell="contacts/cells/tier.html"),
        Column("billing_country", "Country", css="hide-sm"),
        Column("owner", "Owner", css="hide-sm"),
        Column("annual_revenue", "Annual revenue", sort="revenue", css="num hide-sm"),
        Column("created_at", "Created", sort="created", css="hide-sm"),
    ),
    list_fields=(
        "id",
        "name",
        "kind",
        "industry",
        "tier",
        "billing_country",
        "annual_revenue",
        "revenue_currency",
        "created_at",
        "owner",
        "owner__full_name",
        "owner__email",
        "parent",
        "parent__name",
    ),
    detail_sections=(
        (
            "Overview",
            (
                "kind",
                "industry",
                "tier",
                "owner",
                "team",
                "employee_count",
                "annual_revenue",
                "year_established",
                "external_id",
            ),
        ),
        ("Contact details", ("email", "phone", "website", "domain")),
        (
            "Billing address",
            (
                "billing_street",
                "billing_city",
                "billing_region",
                "billing_postal_code",
                "billing_country",
            ),
        ),
    ),
    bulk_form_class=AccountBulkEditForm,
    record_arg="account",
    namespace="contacts",
    related=_detail_related,
    primary_filters=("q", "tier", "owner"),
)

CONTACTS = ObjectUI(
    key="contact",
    model=Contact,
    label="Contact",
    label_plural="Contacts",
    filterset=ContactFilter,
    sorts=CONTACT_SORTS,
    default_sort="name",
    selector=selectors.contact_list,
    getter=selectors.contact_get,
    create=services.contact_create,
    update=services.contact_update,
    delete=services.contact_delete,
    form_class=ContactForm,
    columns=(
        Column("name", "Name", sort="name"),
        Column("account", "Account", css="hide-sm", cell="contacts/cells/contact_account.html"),
        Column("title", "Title", css="hide-sm"),
        Column("email", "Email"),
        Column("phone", "Phone", css="hide-sm"),
        Column("owner", "Owner", css="hide-sm"),
        Column("created_at", "Created", sort="created", css="hide-sm"),
    ),
    list_fields=(
        "id",
        "first_name",
        "last_name",
        "title",
        "email",
        "phone",
        "created_at",
        "owner",
        "owner__full_name",
        "owner__email",
        "account",
        "account__name",
    ),
    detail_sections=(
        (
            "Overview",
            (
                "salutation",
                "title",
                "department",
                "owner",
                "team",
                "language",
                "time_zone",
                "birthdate",
                "external_id",
            ),
        ),
        ("Reach", ("email", "phone", "do_not_call", "email_opt_out")),
    ),
    record_arg="contact",
    namespace="contacts",
    primary_filters=("q", "owner"),
    related=_detail_related,
    find_duplicates=_contact_duplicates,
    duplicate_fields=("email", "phone"),
    list_links=(
        ToolbarLink(
            "vcard-export",
            "Export vCard",
            "vcard:contact_list",
            needs=Action.EXPORT,
            with_query=True,
        ),
        ToolbarLink("vcard-import", "Import vCard", "vcard:contact_import", needs=Action.CREATE),
    ),
    detail_links=(
        ToolbarLink("vcard-export-one", "Export vCard", "vcard:contact", needs=Action.EXPORT),
    ),
)

account_pages = RecordPages(ACCOUNTS)
contact_pages = RecordPages(CONTACTS)


def register_ui() -> None:
    """Put accounts and contacts in the navigation and the recycle bin (from AppConfig.ready)."""
    register_nav_item(
        NavItem(
            area="Sales",
            label="Accounts",
            url_name="contacts:account_list",
            object_type=Account.object_type(),
            create_url_name="contacts:account_create",
            order=10,
        )
    )
    register_nav_item(
        NavItem(
            area="Sales",
            label="Contacts",
            url_name="contacts:contact_list",
            object_type=Contact.object_type(),
            create_url_name="contacts:contact_create",
            order=20,
        )
    )
    register_recyclable(
        Recyclable(
            model=Account,
            label="Account",
            detail_url_name="contacts:account_detail",
            restore=lambda user, record: services.account_restore(user=user, account=record),
        )
    )
    register_recyclable(
        Recyclable(
            model=Contact,
            label="Contact",
            detail_url_name="contacts:contact_detail",
            restore=lambda user, record: services.contact_restore(user=user, contact=record),
        )
    )
