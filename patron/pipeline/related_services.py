"""The write path for what hangs off an opportunity: contact roles, competitors, the
opportunity team and revenue splits.

Every change needs edit access to the opportunity and leaves a line in its change log, so
"who added this champion" or "who moved my split" has an answer on the timeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from patron.contacts.models import Competitor, Contact
from patron.core import records
from patron.core.choices import Action, Via
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.visibility import Principal, can_access
from patron.pipeline.choices import (
    OpportunityContactRoleKind,
    OpportunityTeamRole,
    SplitType,
    TeamAccess,
)
from patron.pipeline.models import (
    Opportunity,
    OpportunityCompetitor,
    OpportunityContact,
    OpportunityTeamMember,
    RevenueSplit,
)
from patron.users.models import User

HUNDRED = Decimal("100")
CENT = Decimal("0.01")


def _require_edit(user: Principal, opportunity: Opportunity, what: str) -> None:
    if not can_access(user, opportunity, Action.UPDATE):
        raise PermissionDenied(
            f"Only users who may edit this opportunity may {what}; ask its owner to put you on "
            "its team with edit access."
        )


def _log(
    user: Principal, opportunity: Opportunity, what: str, before: Any, after: Any, via: str
) -> None:
    records.log_change(
        opportunity, actor=user, via=via, action="update", changes={what: [before, after]}
    )


def _choice(value: str | None, choices: Any, field: str, errors: dict[str, list[str]]) -> None:
    if value is not None and value not in choices.values:
        errors[field] = [f"Choose one of: {', '.join(choices.values)}."]


def _refuse(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationFailed("Nothing was saved; correct the highlighted fields.", errors=errors)


# --- contact roles ----------------------------------------------------------------------------


def _role_text(link: OpportunityContact) -> str:
    primary = ", primary" if link.is_primary else ""
    return f"{link.contact} ({link.get_role_display()}{primary})"


def _make_only_primary(link: OpportunityContact) -> None:
    OpportunityContact.objects.filter(opportunity_id=link.opportunity_id, is_primary=True).exclude(
        pk=link.pk
    ).update(is_primary=False)


def opportunity_contact_add(
    *,
    user: Principal,
    opportunity: Opportunity,
    contact_id: Any,
    role: str,
    is_primary: bool = False,
    via: str = Via.UI,
) -> OpportunityContact:
    """Name a contact's role on the opportunity; the first contact added becomes primary."""
    _require_edit(user, opportunity, "change its contacts")
    errors: dict[str, list[str]] = {}
    _choice(role, OpportunityContactRoleKind, "role", errors)
    try:
        contact = Contact.objects.visible_to(user).filter(pk=contact_id).first()
    except (ValueError, TypeError):
        contact = None
    if contact is None:
        errors["contact"] = ["Choose a contact you can see."]
    elif OpportunityContact.objects.filter(opportunity=opportunity, contact=contact).exists():
        errors["contact"] = [f"{contact} is already on this opportunity; change their role."]
    _refuse(errors)
    assert contact is not None
    with transaction.atomic():
        first = not OpportunityContact.objects.filter(opportunity=opportunity).exists()
        link = OpportunityContact.objects.create(
            opportunity=opportunity, contact=contact, role=role, is_primary=is_primary or first
        )
        if link.is_primary:
            _make_only_primary(link)
        _log(user, opportunity, "contact roles", None, _role_text(link), via)
    return link


def opportunity_contact_update(
    *,
    user: Principal,
    contact_role: OpportunityContact,
    role: str | None = None,
    is_primary: bool | None = None,
    via: str = Via.UI,
) -> OpportunityContact:
    """Change a contact's role, or make them the primary contact (the previous one no longer
    is). Unsetting primary leaves the opportunity without one until another is chosen."""
    opportunity = contact_role.opportunity
    _require_edit(user, opportunity, "change its contacts")
    errors: dict[str, list[str]] = {}
    _choice(role, OpportunityContactRoleKind, "role", errors)
    _refuse(errors)
    before = _role_text(contact_role)
    if role is not None:
        contact_role.role = role
    if is_primary is not None:
        contact_role.is_primary = is_primary
    after = _role_text(contact_role)
    if before != after:
        with transaction.atomic():
            contact_role.save(update_fields=["role", "is_primary"])
            if contact_role.is_primary:
                _make_only_primary(contact_role)
            _log(user, opportunity, "contact roles", before, after, via)
    return contact_role


def opportunity_contact_remove(
    *, user: Principal, contact_role: OpportunityContact, via: str = Via.UI
) -> None:
    opportunity = contact_role.opportunity
    _require_edit(user, opportunity, "change its contacts")
    with transaction.atomic():
        before = _role_text(contact_role)
        contact_role.delete()
        _log(user, opportunity, "contact roles", before, None, via)


# --- competitors ------------------------------------------------------------------------------


def opportunity_competitor_add(
    *,
    user: Principal,
    opportunity: Opportunity,
    competitor_id: Any,
    notes: str = "",
    via: str = Via.UI,
) -> OpportunityCompetitor:
    _require_edit(user, opportunity, "change its competitors")
    errors: dict[str, list[str]] = {}
    try:
        competitor = Competitor.objects.visible_to(user).filter(pk=competitor_id).first()
    except (ValueError, TypeError):
        competitor = None
    if competitor is None:
        errors["competitor"] = ["Choose a competitor you can see."]
    elif OpportunityCompetitor.objects.filter(
        opportunity=opportunity, competitor=competitor
    ).exists():
        errors["competitor"] = [f"{competitor} is already listed; edit its notes instead."]
    _refuse(errors)
    assert competitor is not None
    with transaction.atomic():
        link = OpportunityCompetitor.objects.create(
            opportunity=opportunity, competitor=competitor, notes=notes.strip()
        )
        _log(user, opportunity, "competitors", None, str(competitor), via)
    return link


def opportunity_competitor_update(
    *, user: Principal, link: OpportunityCompetitor, notes: str, via: str = Via.UI
) -> OpportunityCompetitor:
    opportunity = link.opportunity
    _require_edit(user, opportunity, "change its competitors")
    notes = notes.strip()
    if notes != link.notes:
        with transaction.atomic():
            link.notes = notes
            link.save(update_fields=["notes"])
            _log(user, opportunity, "competitor notes", None, str(link.competitor), via)
    return link


def opportunity_competitor_remove(
    *, user: Principal, link: OpportunityCompetitor, via: str = Via.UI
) -> None:
    opportunity = link.opportunity
    _require_edit(user, opportunity, "change its competitors")
    with transaction.atomic():
        link.delete()
        _log(user, opportunity, "competitors", str(link.competitor), None, via)


# --- the opportunity team ---------------------------------------------------------------------


def _member_text(member: OpportunityTeamMember) -> str:
    return f"{member.user} ({member.get_role_display()}, {member.get_access_display().lower()})"


def opportunity_team_add(
    *,
    user: Principal,
    opportunity: Opportunity,
    member_user: User | None,
    role: str,
    access: str = TeamAccess.READ,
    via: str = Via.UI,
) -> OpportunityTeamMember:
    """Put ``member_user`` on the team: they see the opportunity, and with edit access they
    change it too."""
    _require_edit(user, opportunity, "change its team")
    errors: dict[str, list[str]] = {}
    _choice(role, OpportunityTeamRole, "role", errors)
    _choice(access, TeamAccess, "access", errors)
    if member_user is None or not member_user.is_active:
        errors["user"] = ["Choose an active user."]
    elif member_user.pk == opportunity.owner_id:
        errors["user"] = [f"{member_user} owns this opportunity and needs no team place."]
    elif OpportunityTeamMember.objects.filter(opportunity=opportunity, user=member_user).exists():
        errors["user"] = [f"{member_user} is already on the team; change their role instead."]
    _refuse(errors)
    assert member_user is not None
    with transaction.atomic():
        member = OpportunityTeamMember.objects.create(
            opportunity=opportunity, user=member_user, role=role, access=access
        )
        _log(user, opportunity, "opportunity team", None, _member_text(member), via)
    return member


def opportunity_team_update(
    *,
    user: Principal,
    member: OpportunityTeamMember,
    role: str | None = None,
    access: str | None = None,
    via: str = Via.UI,
) -> OpportunityTeamMember:
    opportunity = member.opportunity
    _require_edit(user, opportunity, "change its team")
    errors: dict[str, list[str]] = {}
    _choice(role, OpportunityTeamRole, "role", errors)
    _choice(access, TeamAccess, "access", errors)
    _refuse(errors)
    before = _member_text(member)
    if role is not None:
        member.role = role
    if access is not None:
        member.access = access
    after = _member_text(member)
    if before != after:
        with transaction.atomic():
            member.save(update_fields=["role", "access"])
            _log(user, opportunity, "opportunity team", before, after, via)
    return member


def opportunity_team_remove(
    *, user: Principal, member: OpportunityTeamMember, via: str = Via.UI
) -> None:
    """Take a member off the team; refused while they hold a revenue split, which would
    otherwise no longer total 100 %."""
    opportunity = member.opportunity
    _require_edit(user, opportunity, "change its team")
    held = sorted(
        str(SplitType(split_type).label).lower()
        for split_type in RevenueSplit.objects.filter(
            opportunity=opportunity, user_id=member.user_id
        ).values_list("split_type", flat=True)
    )
    if held:
        raise ValidationFailed(
            f"{member.user} still holds a share of the {' and '.join(held)} split.",
            errors={
                "user": [
                    f"Give {member.user}'s {' and '.join(held)} share to others first, then "
                    "remove them from the team."
                ]
            },
        )
    with transaction.atomic():
        before = _member_text(member)
        member.delete()
        _log(user, opportunity, "opportunity team", before, None, via)


# --- revenue splits ---------------------------------------------------------------------------


def _as_percent(value: Any) -> Decimal | None:
    try:
        percent = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not percent.is_finite() or percent != percent.quantize(CENT):
        return None
    return percent


def _splits_text(splits: Iterable[RevenueSplit]) -> str:
    return ", ".join(f"{split.user} {split.percent} %" for split in splits) or "none"


def opportunity_splits_replace(
    *,
    user: Principal,
    opportunity: Opportunity,
    split_type: str,
    shares: Iterable[tuple[Any, Any]],
    via: str = Via.UI,
) -> list[RevenueSplit]:
    """Replace the whole set of ``split_type`` shares with ``shares`` (user, percent).

    The set is checked as a whole: each percent is above 0 and at most 100 with at most two
    decimals, each user is on the team or owns the opportunity, nobody appears twice, and the
    percents total exactly 100. An empty set clears the split type.
    """
    _require_edit(user, opportunity, "change its revenue splits")
    if split_type not in SplitType.values:
        raise ValidationFailed(
            "Unknown split type.",
            errors={"split_type": [f"Choose one of: {', '.join(SplitType.values)}."]},
        )
    pairs = [(getattr(holder, "pk", holder), percent) for holder, percent in shares]
    allowed = set(
        OpportunityTeamMember.objects.filter(opportunity=opportunity).values_list(
            "user_id", flat=True
        )
    )
    allowed.add(opportunity.owner_id)
    names = {u.pk: str(u) for u in User.objects.filter(pk__in=[pk for pk, _ in pairs])}
    problems: list[str] = []
    seen: set[Any] = set()
    valid: list[tuple[Any, Decimal]] = []
    total = Decimal("0")
    for user_id, value in pairs:
        name = names.get(user_id, f"user {user_id}")
        percent = _as_percent(value)
        if percent is None:
            problems.append(f"{name}: “{value}” is not a percentage; write e.g. 40 or 33.33.")
        elif not Decimal("0") < percent <= HUNDRED:
            problems.append(f"{name}: a share is more than 0 and at most 100 %.")
        else:
            total += percent
            valid.append((user_id, percent))
        if user_id in seen:
            problems.append(f"{name} appears twice; give each person one share.")
        seen.add(user_id)
        if user_id not in allowed:
            problems.append(f"{name} is not on the opportunity team; add them to the team first.")
    if not problems and pairs and total != HUNDRED:
        problems.append(
            f"The {SplitType(split_type).label.lower()} shares total {total} %; they must "
            "total exactly 100 %."
        )
    if problems:
        raise ValidationFailed("The splits were not saved.", errors={"shares": problems})
    existing = RevenueSplit.objects.filter(opportunity=opportunity, split_type=split_type)
    with transaction.atomic():
        before = _splits_text(existing.select_related("user").order_by("-percent", "user_id"))
        existing.delete()
        RevenueSplit.objects.bulk_create(
            RevenueSplit(
                opportunity=opportunity,
                user_id=user_id,
                split_type=split_type,
                percent=percent,
            )
            for user_id, percent in valid
        )
        splits = list(
            RevenueSplit.objects.filter(opportunity=opportunity, split_type=split_type)
            .select_related("user")
            .order_by("-percent", "user_id")
        )
        after = _splits_text(splits)
        if before != after:
            _log(user, opportunity, f"{split_type} split", before, after, via)
    return splits
