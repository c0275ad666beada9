"""The write path for accounts and contacts; views, API, imports and tasks all call these."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from patron.contacts.choices import AccountKind
from patron.contacts.models import (
    Account,
    AccountContactRelation,
    AccountTeamMember,
    AccountTeamRole,
    Contact,
    ContactAddress,
    ContactEmail,
    ContactPhone,
    ContactRole,
    TeamAccess,
)
from patron.core import records, search
from patron.core.choices import Action, FieldAccess, SecurityEventKind, Via
from patron.core.custom_fields import clean_custom_values
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import SecurityEvent
from patron.core.org import org_settings
from patron.core.values import normalize_domain, normalize_email, normalize_phone
from patron.core.visibility import Principal, can_access, sensitive_field_access

ACCOUNT_FIELDS = frozenset(
    f.name
    for f in Account._meta.concrete_fields
    if f.name not in Account.UNTRACKED_FIELDS | {"custom"}
) | {"owner", "team", "parent"}
CONTACT_FIELDS = frozenset(
    f.name
    for f in Contact._meta.concrete_fields
    if f.name not in Contact.UNTRACKED_FIELDS | {"custom"}
) | {"owner", "team", "account"}


def _check_field_security(model: type[Any], user: Principal, fields: dict[str, Any]) -> None:
    access = sensitive_field_access(user, model)
    names = [*fields, *(f"custom.{key}" for key in fields.get("custom") or {})]
    blocked = [name for name in names if access.get(name, FieldAccess.EDIT) != FieldAccess.EDIT]
    if blocked:
        raise PermissionDenied(
            "You may not change these fields: " + ", ".join(blocked) + ".",
            errors={name: ["You do not have edit access to this field."] for name in blocked},
        )


def _model_errors(instance: Any, exclude: set[str]) -> dict[str, list[str]]:
    try:
        instance.full_clean(
            exclude=sorted(exclude), validate_unique=False, validate_constraints=False
        )
    except DjangoValidationError as exc:
        return {name: [str(m) for m in messages] for name, messages in exc.message_dict.items()}
    return {}


def _clean_account(fields: dict[str, Any], *, instance: Account) -> dict[str, Any]:
    unknown = set(fields) - ACCOUNT_FIELDS - {"custom"}
    if unknown:
        raise ValidationFailed(
            "Unknown fields.", errors={name: ["This field does not exist."] for name in unknown}
        )
    errors: dict[str, list[str]] = {}
    cleaned = dict(fields)
    kind = cleaned.get("kind", instance.kind)
    if kind == AccountKind.PERSON:
        first = cleaned.get("first_name", instance.first_name)
        last = cleaned.get("last_name", instance.last_name)
        if not (last or "").strip():
            errors["last_name"] = ["A person account needs a last name."]
        if not cleaned.get("name") and last:
            cleaned["name"] = " ".join(p for p in (first, last) if p)
    if "name" in cleaned or not instance.pk:
        name = (cleaned.get("name", instance.name) or "").strip()
        if not name:
            errors.setdefault("name", ["Enter the account's name."])
        cleaned["name"] = name
    if cleaned.get("email"):
        try:
            cleaned["email"] = normalize_email(cleaned["email"])
        except ValueError as exc:
            errors["email"] = [str(exc)]
    if cleaned.get("phone"):
        try:
            cleaned["phone"] = normalize_phone(
                cleaned["phone"], cleaned.get("billing_country") or instance.billing_country or None
            )
        except ValueError as exc:
            errors["phone"] = [str(exc)]
    if cleaned.get("website") and not cleaned.get("domain"):
        cleaned["domain"] = normalize_domain(cleaned["website"])
    elif cleaned.get("domain"):
        cleaned["domain"] = normalize_domain(cleaned["domain"])
    if cleaned.get("revenue_currency"):
        cleaned["revenue_currency"] = str(cleaned["revenue_currency"]).upper()
    elif cleaned.get("annual_revenue") is not None and not instance.revenue_currency:
        cleaned["revenue_currency"] = org_settings().default_currency
    if cleaned.get("billing_country"):
        cleaned["billing_country"] = str(cleaned["billing_country"]).upper()
    parent = cleaned.get("parent")
    if parent is not None and instance.pk and _creates_cycle(instance, parent):
        errors["parent"] = ["An account cannot be its own ancestor; choose another parent."]
    if "custom" in cleaned:
        merged, custom_errors = clean_custom_values(
            Account.object_type(), cleaned["custom"] or {}, existing=instance.custom
        )
        cleaned["custom"] = merged
        errors.update(custom_errors)
    elif not instance.pk:
        _, custom_errors = clean_custom_values(Account.object_type(), {})
        errors.update(custom_errors)
    probe = Account(**{**_field_values(instance), **cleaned})
    for name, messages in _model_errors(
        probe, exclude={"owner", "team", "parent", "created_by", "deleted_by", "custom"}
    ).items():
        errors.setdefault(name, messages)
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", errors=errors)
    return cleaned


def _field_values(instance: Any) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def _creates_cycle(account: Account, parent: Account) -> bool:
    seen: set[int] = set()
    node: Account | None = parent
    while node is not None:
        if node.pk == account.pk or node.pk in seen:
            return True
        seen.add(node.pk)
        node = Account.all_objects.filter(pk=node.parent_id).first() if node.parent_id else None
    return False


def _check_parent_visible(
    user: Principal, fields: dict[str, Any], *, current_id: int | None
) -> None:
    """A new parent must be an account the user can see (an unchanged one may stay)."""
    parent = fields.get("parent")
    if parent is None or parent.pk == current_id:
        return
    if not can_access(user, parent, Action.READ):
        raise ValidationFailed(
            "The parent account was not found.",
            errors={"parent": [f"No account with id {parent.pk} that you can see."]},
        )


def account_create(*, user: Principal, via: str = Via.UI, **fields: Any) -> Account:
    if not user.access_profile().may(Account.object_type(), Action.CREATE):
        raise PermissionDenied("Your role may not create accounts.")
    _check_field_security(Account, user, {k: v for k, v in fields.items() if v not in (None, "")})
    _check_parent_visible(user, fields, current_id=None)
    fields.setdefault("owner", user)
    cleaned = _clean_account(fields, instance=Account())
    with transaction.atomic():
        account = records.record_create(Account(**cleaned), actor=user, via=via)
        search.index_record(account)
    return account


def account_update(
    *,
    user: Principal,
    account: Account,
    expected_version: int | None = None,
    via: str = Via.UI,
    **fields: Any,
) -> Account:
    _check_field_security(Account, user, fields)
    _check_parent_visible(user, fields, current_id=account.parent_id)
    cleaned = _clean_account(fields, instance=account)
    with transaction.atomic():
        account = records.record_update(
            account, changes=cleaned, actor=user, via=via, expected_version=expected_version
        )
        search.index_record(account)
    return account


def account_delete(*, user: Principal, account: Account, via: str = Via.UI) -> Account:
    with transaction.atomic():
        records.record_soft_delete(account, actor=user, via=via)
        search.unindex_record(account)
    return account


def account_restore(*, user: Principal, account: Account, via: str = Via.UI) -> Account:
    with transaction.atomic():
        records.record_restore(account, actor=user, via=via)
        search.index_record(account)
    return account


def _clean_contact(fields: dict[str, Any], *, instance: Contact) -> dict[str, Any]:
    unknown = set(fields) - CONTACT_FIELDS - {"custom"}
    if unknown:
        raise ValidationFailed(
            "Unknown fields.", errors={name: ["This field does not exist."] for name in unknown}
        )
    errors: dict[str, list[str]] = {}
    cleaned = dict(fields)
    if "last_name" in cleaned or not instance.pk:
        last = (cleaned.get("last_name", instance.last_name) or "").strip()
        if not last:
            errors["last_name"] = ["Enter the contact's last name."]
        cleaned["last_name"] = last
    if cleaned.get("email"):
        try:
            cleaned["email"] = normalize_email(cleaned["email"])
        except ValueError as exc:
            errors["email"] = [str(exc)]
    if cleaned.get("phone"):
        try:
            cleaned["phone"] = normalize_phone(cleaned["phone"])
        except ValueError as exc:
            errors["phone"] = [str(exc)]
    if cleaned.get("time_zone"):
        try:
            zoneinfo.ZoneInfo(str(cleaned["time_zone"]))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors["time_zone"] = [
                f"{cleaned['time_zone']!r} is not a time zone; use a name such as Europe/Berlin."
            ]
    if "social" in cleaned and not isinstance(cleaned["social"] or {}, dict):
        errors["social"] = ['Social handles are a mapping such as {"linkedin": "ana-lee"}.']
    if "custom" in cleaned:
        merged, custom_errors = clean_custom_values(
            Contact.object_type(), cleaned["custom"] or {}, existing=instance.custom
        )
        cleaned["custom"] = merged
        errors.update(custom_errors)
    elif not instance.pk:
        _, custom_errors = clean_custom_values(Contact.object_type(), {})
        errors.update(custom_errors)
    probe = Contact(**{**_field_values(instance), **cleaned})
    for name, messages in _model_errors(
        probe, exclude={"owner", "team", "account", "created_by", "deleted_by", "custom"}
    ).items():
        errors.setdefault(name, messages)
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", errors=errors)
    return cleaned


def _sync_primary_channels(contact: Contact) -> None:
    """Keep the typed email/phone lists holding the contact's primary email and phone."""
    if contact.email:
        ContactEmail.objects.filter(contact=contact, is_primary=True).exclude(
            email=contact.email
        ).update(is_primary=False)
        email, _ = ContactEmail.objects.get_or_create(contact=contact, email=contact.email)
        if not email.is_primary:
            email.is_primary = True
            email.save(update_fields=["is_primary"])
    if contact.phone:
        ContactPhone.objects.filter(contact=contact, is_primary=True).exclude(
            number=contact.phone
        ).update(is_primary=False)
        phone, _ = ContactPhone.objects.get_or_create(contact=contact, number=contact.phone)
        if not phone.is_primary:
            phone.is_primary = True
            phone.save(update_fields=["is_primary"])


def _sync_primary_relation(contact: Contact) -> None:
    """Keep the contact's primary account relation pointing at its ``account``."""
    others = AccountContactRelation.objects.filter(contact=contact, is_primary=True)
    if contact.account_id:
        others = others.exclude(account_id=contact.account_id)
    others.update(is_primary=False)
    if contact.account_id:
        AccountContactRelation.objects.update_or_create(
            contact=contact, account_id=contact.account_id, defaults={"is_primary": True}
        )


def contact_create(*, user: Principal, via: str = Via.UI, **fields: Any) -> Contact:
    if not user.access_profile().may(Contact.object_type(), Action.CREATE):
        raise PermissionDenied("Your role may not create contacts.")
    _check_field_security(Contact, user, {k: v for k, v in fields.items() if v not in (None, "")})
    fields.setdefault("owner", user)
    cleaned = _clean_contact(fields, instance=Contact())
    with transaction.atomic():
        contact = records.record_create(Contact(**cleaned), actor=user, via=via)
        _sync_primary_channels(contact)
        if contact.account_id:
            _sync_primary_relation(contact)
        search.index_record(contact)
    return contact


def contact_update(
    *,
    user: Principal,
    contact: Contact,
    expected_version: int | None = None,
    via: str = Via.UI,
    **fields: Any,
) -> Contact:
    _check_field_security(Contact, user, fields)
    cleaned = _clean_contact(fields, instance=contact)
    with transaction.atomic():
        contact = records.record_update(
            contact, changes=cleaned, actor=user, via=via, expected_version=expected_version
        )
        _sync_primary_channels(contact)
        if "account" in cleaned:
            _sync_primary_relation(contact)
        search.index_record(contact)
    return contact


def contact_delete(*, user: Principal, contact: Contact, via: str = Via.UI) -> Contact:
    with transaction.atomic():
        records.record_soft_delete(contact, actor=user, via=via)
        search.unindex_record(contact)
    return contact


def contact_restore(*, user: Principal, contact: Contact, via: str = Via.UI) -> Contact:
    with transaction.atomic():
        records.record_restore(contact, actor=user, via=via)
        search.index_record(contact)
    return contact


def _clean_channels(
    items: list[dict[str, Any]],
    *,
    field: str,
    value_key: str,
    kinds: set[str],
    normalize: Any,
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Validate typed emails or phones; exactly one primary when any are given."""
    cleaned: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    for index, item in enumerate(items):
        key = f"{field}.{index}"
        kind = item.get("kind") or "work"
        if kind not in kinds:
            errors[f"{key}.kind"] = [f"Choose one of: {', '.join(sorted(kinds))}."]
            continue
        try:
            value = normalize(str(item.get(value_key) or ""))
        except ValueError as exc:
            errors[f"{key}.{value_key}"] = [str(exc)]
            continue
        if value in seen:
            errors[f"{key}.{value_key}"] = ["This appears twice in the list."]
            continue
        seen.add(value)
        cleaned.append({"kind": kind, value_key: value, "is_primary": bool(item.get("is_primary"))})
    if cleaned and not errors:
        primaries = [c for c in cleaned if c["is_primary"]]
        if len(primaries) > 1:
            errors[field] = ["Mark only one as primary."]
        elif not primaries:
            cleaned[0]["is_primary"] = True
    return cleaned, errors


def contact_channels_replace(
    *,
    user: Principal,
    contact: Contact,
    emails: list[dict[str, Any]] | None = None,
    phones: list[dict[str, Any]] | None = None,
    addresses: list[dict[str, Any]] | None = None,
    expected_version: int | None = None,
    via: str = Via.UI,
) -> Contact:
    """Replace a contact's typed emails, phones and/or addresses (None leaves a list alone).

    The primary email and phone are copied onto the contact (for lists, search and
    matching), which bumps its version and writes the change log like any other edit.
    """
    from patron.contacts.choices import AddressKind, EmailKind, PhoneKind

    errors: dict[str, list[str]] = {}
    clean_emails: list[dict[str, Any]] | None = None
    clean_phones: list[dict[str, Any]] | None = None
    if emails is not None:
        clean_emails, email_errors = _clean_channels(
            emails,
            field="emails",
            value_key="email",
            kinds=set(EmailKind.values),
            normalize=normalize_email,
        )
        errors.update(email_errors)
    if phones is not None:
        clean_phones, phone_errors = _clean_channels(
            phones,
            field="phones",
            value_key="number",
            kinds=set(PhoneKind.values),
            normalize=normalize_phone,
        )
        errors.update(phone_errors)
    clean_addresses: list[dict[str, Any]] = []
    for index, address in enumerate(addresses or []):
        kind = address.get("kind") or "work"
        if kind not in AddressKind.values:
            errors[f"addresses.{index}.kind"] = [f"Choose one of: {', '.join(AddressKind.values)}."]
            continue
        country = str(address.get("country") or "").strip().upper()
        if country and not (len(country) == 2 and country.isalpha()):
            errors[f"addresses.{index}.country"] = ["Use the two-letter ISO code, e.g. DE."]
            continue
        clean_addresses.append(
            {
                "kind": kind,
                "street": str(address.get("street") or "")[:300],
                "city": str(address.get("city") or "")[:100],
                "region": str(address.get("region") or "")[:100],
                "postal_code": str(address.get("postal_code") or "")[:20],
                "country": country,
                "is_primary": bool(address.get("is_primary")),
            }
        )
    if addresses is not None and sum(a["is_primary"] for a in clean_addresses) > 1:
        errors["addresses"] = ["Mark only one address as primary."]
    elif clean_addresses and not any(a["is_primary"] for a in clean_addresses):
        clean_addresses[0]["is_primary"] = True
    if errors:
        raise ValidationFailed("Please correct the highlighted entries.", errors=errors)

    primary_changes: dict[str, Any] = {}
    with transaction.atomic():
        if clean_emails is not None:
            ContactEmail.objects.filter(contact=contact).delete()
            ContactEmail.objects.bulk_create(
                [ContactEmail(contact=contact, **item) for item in clean_emails]
            )
            primary_changes["email"] = next(
                (e["email"] for e in clean_emails if e["is_primary"]), ""
            )
        if clean_phones is not None:
            ContactPhone.objects.filter(contact=contact).delete()
            ContactPhone.objects.bulk_create(
                [ContactPhone(contact=contact, **item) for item in clean_phones]
            )
            primary_changes["phone"] = next(
                (p["number"] for p in clean_phones if p["is_primary"]), ""
            )
        if addresses is not None:
            ContactAddress.objects.filter(contact=contact).delete()
            ContactAddress.objects.bulk_create(
                [ContactAddress(contact=contact, **item) for item in clean_addresses]
            )
        contact = records.record_update(
            contact,
            changes=primary_changes,
            actor=user,
            via=via,
            expected_version=expected_version,
        )
        search.index_record(contact)
    return contact


# --- account team ----------------------------------------------------------------------------


def _require_account_edit(user: Principal, account: Account, what: str) -> None:
    if not can_access(user, account, Action.UPDATE):
        raise PermissionDenied(f"Only users who may edit this account may {what}.")


def _clean_membership(team_role: str | None, access: str | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if team_role is not None and team_role not in AccountTeamRole.values:
        errors["team_role"] = [f"Choose one of: {', '.join(AccountTeamRole.values)}."]
    if access is not None and access not in TeamAccess.values:
        errors["access"] = ["Choose read or edit."]
    return errors


def _log_team_change(
    *,
    user: Principal,
    member: AccountTeamMember,
    change: str,
    before: str | None,
    after: str | None,
    via: str,
) -> None:
    """A permission change in the security log and a line in the account's change log."""
    account = member.account
    SecurityEvent.objects.create(
        kind=SecurityEventKind.PERMISSION_CHANGE,
        user_id=user.pk,
        detail={
            "change": change,
            "object_type": account._meta.label_lower,
            "object_id": account.pk,
            "member": str(member.user),
            "team_role": member.team_role,
            "access": member.access,
        },
    )
    records.log_change(
        account, actor=user, via=via, action="update", changes={"account team": [before, after]}
    )


def account_team_add(
    *,
    user: Principal,
    account: Account,
    member_user: Any,
    team_role: str,
    access: str = TeamAccess.READ,
    via: str = Via.UI,
) -> AccountTeamMember:
    """Put ``member_user`` on the account team; only editors of the account may."""
    _require_account_edit(user, account, "change its team")
    errors = _clean_membership(team_role, access)
    if member_user is None or not getattr(member_user, "is_active", False):
        errors["user"] = ["Choose an active user."]
    elif AccountTeamMember.objects.filter(account=account, user=member_user).exists():
        errors["user"] = [f"{member_user} is already on this account's team."]
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", errors=errors)
    with transaction.atomic():
        member = AccountTeamMember.objects.create(
            account=account,
            user=member_user,
            team_role=team_role,
            access=access,
            added_by_id=user.pk,
        )
        _log_team_change(
            user=user,
            member=member,
            change="account_team_added",
            before=None,
            after=str(member),
            via=via,
        )
    return member


def account_team_update(
    *,
    user: Principal,
    member: AccountTeamMember,
    team_role: str | None = None,
    access: str | None = None,
    via: str = Via.UI,
) -> AccountTeamMember:
    _require_account_edit(user, member.account, "change its team")
    errors = _clean_membership(team_role, access)
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", errors=errors)
    before = str(member)
    changed = False
    for name, value in (("team_role", team_role), ("access", access)):
        if value is not None and getattr(member, name) != value:
            setattr(member, name, value)
            changed = True
    if changed:
        with transaction.atomic():
            member.save(update_fields=["team_role", "access"])
            _log_team_change(
                user=user,
                member=member,
                change="account_team_changed",
                before=before,
                after=str(member),
                via=via,
            )
    return member


def account_team_remove(*, user: Principal, member: AccountTeamMember, via: str = Via.UI) -> None:
    _require_account_edit(user, member.account, "change its team")
    with transaction.atomic():
        _log_team_change(
            user=user,
            member=member,
            change="account_team_removed",
            before=str(member),
            after=None,
            via=via,
        )
        member.delete()


# --- contacts' relations to accounts ----------------------------------------------------------

RELATION_FIELDS = frozenset(
    {"roles", "responsibilities", "start_date", "end_date", "is_primary", "reports_to_id"}
)


def _visible_contact(user: Principal, contact_id: Any, field: str) -> Contact:
    """The contact with ``contact_id`` if ``user`` may see it; otherwise an error on ``field``."""
    contact = None
    if isinstance(contact_id, int) or (isinstance(contact_id, str) and contact_id.isdigit()):
        contact = Contact.objects.visible_to(user).filter(pk=int(contact_id)).first()
    if contact is None:
        raise ValidationFailed(
            "That contact does not exist or you may not see it.",
            errors={field: [f"No contact with id {contact_id}."]},
        )
    return contact


def _relation_text(relation: AccountContactRelation) -> str:
    roles = ", ".join(relation.role_labels())
    return f"{relation.contact}" + (f" ({roles})" if roles else "")


def _reports_to_cycle(relation: AccountContactRelation, boss_id: int) -> bool:
    """Whether ``relation.contact`` reporting to ``boss_id`` closes a loop at the account."""
    chain = dict(
        AccountContactRelation.objects.filter(account_id=relation.account_id).values_list(
            "contact_id", "reports_to_id"
        )
    )
    node: int | None = boss_id
    seen: set[int] = set()
    while node is not None and node not in seen:
        if node == relation.contact_id:
            return True
        seen.add(node)
        node = chain.get(node)
    return node is not None


def _clean_relation(
    user: Principal, relation: AccountContactRelation, fields: dict[str, Any]
) -> dict[str, Any]:
    unknown = set(fields) - RELATION_FIELDS
    if unknown:
        raise ValidationFailed(
            "Unknown fields.", errors={name: ["This field does not exist."] for name in unknown}
        )
    errors: dict[str, list[str]] = {}
    cleaned = dict(fields)
    if "roles" in cleaned:
        roles = list(dict.fromkeys(cleaned["roles"] or []))
        wrong = [str(role) for role in roles if role not in ContactRole.values]
        if wrong:
            errors["roles"] = [
                f"Unknown role {', '.join(wrong)}; choose from: {', '.join(ContactRole.values)}."
            ]
        cleaned["roles"] = roles
    if "responsibilities" in cleaned:
        cleaned["responsibilities"] = str(cleaned["responsibilities"] or "").strip()
    start = cleaned.get("start_date", relation.start_date)
    end = cleaned.get("end_date", relation.end_date)
    if start is not None and end is not None and end < start:
        errors["end_date"] = [
            f"The end date ({end.isoformat()}) must be on or after the start date "
            f"({start.isoformat()})."
        ]
    boss_id = cleaned.get("reports_to_id")
    if boss_id is not None:
        try:
            boss = _visible_contact(user, boss_id, "reports_to")
        except ValidationFailed as exc:
            errors.update(exc.errors)
        else:
            cleaned["reports_to_id"] = boss.pk
            related_here = AccountContactRelation.objects.filter(
                account_id=relation.account_id, contact=boss
            ).exists()
            if boss.pk == relation.contact_id:
                errors["reports_to"] = ["A contact cannot report to themselves."]
            elif not related_here:
                errors["reports_to"] = [f"{boss} is not related to this account."]
            elif _reports_to_cycle(relation, boss.pk):
                errors["reports_to"] = [
                    f"{boss} already reports (directly or not) to {relation.contact}; "
                    "that would make a loop."
                ]
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", errors=errors)
    return cleaned


def _log_relation(
    *, user: Principal, account: Account, before: str | None, after: str | None, via: str
) -> None:
    records.log_change(
        account, actor=user, via=via, action="update", changes={"contact relation": [before, after]}
    )


def _set_primary(
    *, user: Principal, relation: AccountContactRelation, primary: bool, via: str
) -> None:
    """Make the relation the contact's main account (or stop it being so) via the contact."""
    contact = relation.contact
    if not can_access(user, contact, Action.UPDATE):
        raise PermissionDenied(
            "You may not edit this contact, so you cannot change its main account.",
            errors={"is_primary": ["You do not have edit access to the contact."]},
        )
    if primary and contact.account_id != relation.account_id:
        contact_update(user=user, contact=contact, account=relation.account, via=via)
    elif not primary and contact.account_id == relation.account_id:
        contact_update(user=user, contact=contact, account=None, via=via)
    relation.is_primary = primary


def relation_add(
    *,
    user: Principal,
    account: Account,
    contact_id: Any,
    via: str = Via.UI,
    **fields: Any,
) -> AccountContactRelation:
    """Relate a contact the user can see to an account the user may edit."""
    _require_account_edit(user, account, "relate contacts to it")
    contact = _visible_contact(user, contact_id, "contact")
    if AccountContactRelation.objects.filter(account=account, contact=contact).exists():
        raise ValidationFailed(
            "Already related.",
            errors={"contact": [f"{contact} is already related to {account}; edit that relation."]},
        )
    relation = AccountContactRelation(account=account, contact=contact, created_by_id=user.pk)
    cleaned = _clean_relation(user, relation, fields)
    primary = bool(cleaned.pop("is_primary", False))
    for name, value in cleaned.items():
        setattr(relation, name, value)
    with transaction.atomic():
        relation.save()
        if primary:
            _set_primary(user=user, relation=relation, primary=True, via=via)
        _log_relation(
            user=user, account=account, before=None, after=_relation_text(relation), via=via
        )
    return relation


def relation_update(
    *, user: Principal, relation: AccountContactRelation, via: str = Via.UI, **fields: Any
) -> AccountContactRelation:
    _require_account_edit(user, relation.account, "change its contacts' relations")
    cleaned = _clean_relation(user, relation, fields)
    primary = cleaned.pop("is_primary", None)
    before = _relation_text(relation)
    with transaction.atomic():
        for name, value in cleaned.items():
            setattr(relation, name, value)
        relation.save()
        if primary is not None and bool(primary) != relation.is_primary:
            _set_primary(user=user, relation=relation, primary=bool(primary), via=via)
        _log_relation(
            user=user,
            account=relation.account,
            before=before,
            after=_relation_text(relation),
            via=via,
        )
    return relation


def relation_end(
    *,
    user: Principal,
    relation: AccountContactRelation,
    end_date: datetime.date | None = None,
    via: str = Via.UI,
) -> AccountContactRelation:
    """End the relation (today unless another date is given); it stays as history."""
    return relation_update(
        user=user, relation=relation, end_date=end_date or timezone.localdate(), via=via
    )


def relation_remove(
    *, user: Principal, relation: AccountContactRelation, via: str = Via.UI
) -> None:
    """Delete the relation (for one made by mistake; ending it keeps the history)."""
    _require_account_edit(user, relation.account, "change its contacts' relations")
    with transaction.atomic():
        if relation.is_primary:
            _set_primary(user=user, relation=relation, primary=False, via=via)
        _log_relation(
            user=user,
            account=relation.account,
            before=_relation_text(relation),
            after=None,
            via=via,
        )
        relation.delete()
