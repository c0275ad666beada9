"""The write path for competitors and their presence at accounts.

Competitors are business records (change log, versions, recycle bin through core.records);
a link says what a competitor sells at one account and is written to that account's change
log, because it is part of what the account page shows.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction

from patron.contacts.choices import CompetitorStatus
from patron.contacts.models import Account, AccountCompetitor, Competitor
from patron.core import records, search
from patron.core.choices import Action, FieldAccess, Via
from patron.core.custom_fields import clean_custom_values
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.visibility import Principal, can_access, sensitive_field_access

COMPETITOR_FIELDS = frozenset(
    f.name
    for f in Competitor._meta.concrete_fields
    if f.name not in Competitor.UNTRACKED_FIELDS | {"custom"}
) | {"owner", "team"}
LINK_FIELDS = frozenset({"status", "products_sold", "contract_end", "notes"})
_TEXT_FIELDS = ("name", "strengths", "weaknesses", "products", "description")


def _check_custom_field_security(user: Principal, fields: dict[str, Any]) -> None:
    """Competitors have no sensitive model fields; sensitive custom fields need edit access."""
    access = sensitive_field_access(user, Competitor)
    names = [f"custom.{key}" for key in fields.get("custom") or {}]
    blocked = [name for name in names if access.get(name, FieldAccess.EDIT) != FieldAccess.EDIT]
    if blocked:
        raise PermissionDenied(
            "You may not change these fields: " + ", ".join(blocked) + ".",
            errors={name: ["You do not have edit access to this field."] for name in blocked},
        )


def _clean_website(value: str) -> str:
    """A URL with a scheme (``example.com`` becomes ``https://example.com``)."""
    url = value.strip()
    if url and "://" not in url:
        url = f"https://{url}"
    URLValidator(schemes=["http", "https"])(url)
    return url


def _clean_competitor(fields: dict[str, Any], *, instance: Competitor) -> dict[str, Any]:
    unknown = set(fields) - COMPETITOR_FIELDS - {"custom"}
    if unknown:
        raise ValidationFailed(
            "Unknown fields.", errors={name: ["This field does not exist."] for name in unknown}
        )
    errors: dict[str, list[str]] = {}
    cleaned = dict(fields)
    for name in _TEXT_FIELDS:
        if name in cleaned:
            cleaned[name] = str(cleaned[name] or "").strip()
    if "name" in cleaned or not instance.pk:
        cleaned["name"] = cleaned.get("name", instance.name) or ""
        if not cleaned["name"]:
            errors["name"] = ["Enter the competitor's name."]
        elif len(cleaned["name"]) > 255:
            errors["name"] = ["Use at most 255 characters."]
    if cleaned.get("website"):
        try:
            cleaned["website"] = _clean_website(str(cleaned["website"]))
        except DjangoValidationError:
            errors["website"] = ["Enter a web address such as https://example.com (http or https)."]
        else:
            if len(cleaned["website"]) > 200:
                errors["website"] = ["Use at most 200 characters."]
    elif "website" in cleaned:
        cleaned["website"] = ""
    if "custom" in cleaned:
        merged, custom_errors = clean_custom_values(
            Competitor.object_type(), cleaned["custom"] or {}, existing=instance.custom
        )
        cleaned["custom"] = merged
        errors.update(custom_errors)
    elif not instance.pk:
        _, custom_errors = clean_custom_values(Competitor.object_type(), {})
        errors.update(custom_errors)
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", errors=errors)
    return cleaned


def _require(user: Principal, competitor: Competitor, action: str, verb: str) -> None:
    if not can_access(user, competitor, action):
        raise PermissionDenied(
            f"You may not {verb} this competitor; ask its owner or an administrator to share "
            "it with edit access."
        )


def competitor_create(*, user: Principal, via: str = Via.UI, **fields: Any) -> Competitor:
    if not user.access_profile().may(Competitor.object_type(), Action.CREATE):
        raise PermissionDenied("Your role may not create competitors.")
    _check_custom_field_security(user, fields)
    fields.setdefault("owner", user)
    cleaned = _clean_competitor(fields, instance=Competitor())
    with transaction.atomic():
        competitor = records.record_create(Competitor(**cleaned), actor=user, via=via)
        search.index_record(competitor)
    return competitor


def competitor_update(
    *,
    user: Principal,
    competitor: Competitor,
    expected_version: int | None = None,
    via: str = Via.UI,
    **fields: Any,
) -> Competitor:
    _require(user, competitor, Action.UPDATE, "change")
    _check_custom_field_security(user, fields)
    cleaned = _clean_competitor(fields, instance=competitor)
    with transaction.atomic():
        competitor = records.record_update(
            competitor, changes=cleaned, actor=user, via=via, expected_version=expected_version
        )
        search.index_record(competitor)
    return competitor


def competitor_delete(*, user: Principal, competitor: Competitor, via: str = Via.UI) -> Competitor:
    """Move the competitor to the recycle bin; its links to accounts stay for a restore."""
    _require(user, competitor, Action.DELETE, "delete")
    with transaction.atomic():
        records.record_soft_delete(competitor, actor=user, via=via)
        search.unindex_record(competitor)
    return competitor


def competitor_restore(*, user: Principal, competitor: Competitor, via: str = Via.UI) -> Competitor:
    with transaction.atomic():
        records.record_restore(competitor, actor=user, via=via)
        search.index_record(competitor)
    return competitor


# --- competitors at accounts ---------------------------------------------------------------


def _require_account_edit(user: Principal, account: Account) -> None:
    if not can_access(user, account, Action.UPDATE):
        raise PermissionDenied(
            "Only users who may edit this account may change its competitors; ask its owner "
            "to share it with edit access."
        )


def _visible_competitor(user: Principal, competitor_id: Any, field: str) -> Competitor:
    """The competitor with ``competitor_id`` if ``user`` may see it; else an error on ``field``."""
    competitor = None
    if isinstance(competitor_id, int) or (
        isinstance(competitor_id, str) and competitor_id.isdigit()
    ):
        competitor = Competitor.objects.visible_to(user).filter(pk=int(competitor_id)).first()
    if competitor is None:
        raise ValidationFailed(
            "That competitor does not exist or you may not see it.",
            errors={field: [f"No competitor with id {competitor_id} that you can see."]},
        )
    return competitor


def _clean_link(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - LINK_FIELDS
    if unknown:
        raise ValidationFailed(
            "Unknown fields.", errors={name: ["This field does not exist."] for name in unknown}
        )
    errors: dict[str, list[str]] = {}
    cleaned = dict(fields)
    if "status" in cleaned and cleaned["status"] not in CompetitorStatus.values:
        errors["status"] = [f"Choose one of: {', '.join(CompetitorStatus.values)}."]
    for name in ("products_sold", "notes"):
        if name in cleaned:
            cleaned[name] = str(cleaned[name] or "").strip()
    end = cleaned.get("contract_end")
    if end is not None and not isinstance(end, datetime.date):
        errors["contract_end"] = ["Enter a date such as 2027-03-31."]
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", errors=errors)
    return cleaned


def link_text(link: AccountCompetitor) -> str:
    """How a link reads in the account's change log."""
    text = f"{link.competitor} ({link.get_status_display()})"
    if link.products_sold:
        text += f": {link.products_sold}"
    if link.contract_end:
        text += f", contract ends {link.contract_end.isoformat()}"
    return text


def _log_link(
    *, user: Principal, account: Account, before: str | None, after: str | None, via: str
) -> None:
    records.log_change(
        account, actor=user, via=via, action="update", changes={"competitor": [before, after]}
    )


def account_competitor_add(
    *,
    user: Principal,
    account: Account,
    competitor_id: Any,
    via: str = Via.UI,
    **fields: Any,
) -> AccountCompetitor:
    """Record that a competitor the user can see is present at an account the user may edit."""
    _require_account_edit(user, account)
    competitor = _visible_competitor(user, competitor_id, "competitor")
    duplicate = ValidationFailed(
        "Already listed.",
        errors={
            "competitor": [f"{competitor} is already listed at {account}; edit that entry instead."]
        },
    )
    if AccountCompetitor.objects.filter(account=account, competitor=competitor).exists():
        raise duplicate
    cleaned = _clean_link(fields)
    link = AccountCompetitor(account=account, competitor=competitor, **cleaned)
    try:
        with transaction.atomic():
            link.save(force_insert=True)
            _log_link(user=user, account=account, before=None, after=link_text(link), via=via)
    except IntegrityError:
        # Someone added the same competitor between the check and the insert.
        raise duplicate from None
    return link


def account_competitor_update(
    *, user: Principal, link: AccountCompetitor, via: str = Via.UI, **fields: Any
) -> AccountCompetitor:
    _require_account_edit(user, link.account)
    cleaned = _clean_link(fields)
    before = link_text(link)
    for name, value in cleaned.items():
        setattr(link, name, value)
    after = link_text(link)
    if not cleaned:
        return link
    with transaction.atomic():
        link.save(update_fields=sorted(cleaned))
        if after != before:
            _log_link(user=user, account=link.account, before=before, after=after, via=via)
    return link


def account_competitor_remove(
    *, user: Principal, link: AccountCompetitor, via: str = Via.UI
) -> None:
    _require_account_edit(user, link.account)
    with transaction.atomic():
        _log_link(user=user, account=link.account, before=link_text(link), after=None, via=via)
        link.delete()
