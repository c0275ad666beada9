"""Duplicate writes: the check every create runs, candidate groups, dismissals and rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from patron.core.choices import Via
from patron.core.exceptions import DuplicateFound, ValidationFailed
from patron.core.models import BusinessRecord
from patron.core.record_pages import record_detail_url
from patron.core.visibility import require_admin as core_require_admin
from patron.data_exchange.choices import DuplicateAction, DuplicateGroupStatus
from patron.data_exchange.duplicate_matching import (
    DuplicateHit,
    active_rules,
    duplicate_object,
    match_rows,
)
from patron.data_exchange.models import DuplicateGroup, DuplicateGroupMember, DuplicateRule

# Creates from these sources are checked; imports check their batches themselves, and
# workflows/system writes (lead conversion, demo data) decide on their own.
CHECKED_VIA = frozenset({Via.UI, Via.API})


RULES_ADMIN_ONLY = "Only administrators may manage duplicate rules."


def require_admin(user: Any) -> None:
    """Administrators (superusers and admin roles) manage rules and run scans."""
    core_require_admin(user, RULES_ADMIN_ONLY)


def record_values(record: BusinessRecord) -> dict[str, Any]:
    """The record's field values as matching reads them (foreign keys as ids)."""
    return {f.name: getattr(record, f.attname) for f in record._meta.concrete_fields}


def describe_matches(
    object_type: str, hits: Sequence[DuplicateHit], user: Any
) -> list[dict[str, Any]]:
    """The matched records ``user`` may see, named and linked; the others only counted."""
    spec = duplicate_object(object_type)
    ids = sorted({h.object_id for h in hits if h.object_id is not None})
    if spec is None or not ids:
        return []
    model = spec.model
    visible: dict[int, Any] = {}
    if user is not None and getattr(user, "pk", None):
        visible = {r.pk: r for r in model.objects.visible_to(user).filter(pk__in=ids)}  # type: ignore[attr-defined]
    matches: list[dict[str, Any]] = []
    for pk in ids:
        hit = next(h for h in hits if h.object_id == pk)
        record = visible.get(pk)
        matches.append(
            {
                "id": pk,
                "visible": record is not None,
                "label": str(record) if record is not None else "",
                "url": record_detail_url(spec.object_type, pk) if record is not None else None,
                "rule": hit.rule_name,
                "action": hit.action,
                "similarity": hit.similarity,
                "match_key": hit.match_key,
            }
        )
    return matches


def _match_lines(label: str, matches: list[dict[str, Any]]) -> list[str]:
    lines = []
    for match in matches:
        if match["visible"]:
            name = f"{label} #{match['id']} “{match['label']}” ({match['url']})"
        else:
            name = f"a {label.lower()} you cannot see"
        lines.append(f"{name}: {match['match_key']} (rule “{match['rule']}”, {match['action']})")
    return lines


def check_create(
    record: BusinessRecord, *, actor: Any, via: str, confirmed: bool | None
) -> Callable[[BusinessRecord], None] | None:
    """Registered with core.records: refuse (block), ask (warn) or report duplicates.

    A warning is asked only in a create form or API create (``confirmed`` False); elsewhere
    (lead conversion, vCard import) nobody can answer it, so the match is reported instead.
    System writes without a user (web-to-lead capture) are not checked.
    """
    if via not in CHECKED_VIA or not getattr(actor, "pk", None):
        return None
    spec = duplicate_object(record.object_type())
    if spec is None:
        return None
    rules = active_rules(spec.object_type)
    if not rules:
        return None
    found = match_rows(spec.object_type, [record_values(record)], rules=rules)[0]
    hits = [h for h in found if h.object_id is not None]
    if not hits:
        return None
    label = str(spec.model._meta.verbose_name).capitalize()
    blocking = [h for h in hits if h.action == DuplicateAction.BLOCK]
    warning = [h for h in hits if h.action == DuplicateAction.WARN]
    if blocking or (warning and confirmed is False):
        refused = blocking or warning
        matches = describe_matches(spec.object_type, refused, actor)
        first = matches[0]
        existing = (
            f"{label.lower()} “{first['label']}”"
            if first["visible"]
            else f"a {label.lower()} you cannot see"
        )
        if blocking:
            detail = (
                f"Not saved: this {label.lower()} already exists as {existing} "
                f"({first['match_key']}); open that record instead."
            )
        else:
            detail = (
                f"This {label.lower()} may already exist as {existing} ({first['match_key']}). "
                "Nothing was saved; save anyway to create it (API: send the header "
                "X-Confirm-Duplicate: true)."
            )
        raise DuplicateFound(
            detail,
            matches=matches,
            can_confirm=not blocking,
            errors={"duplicates": _match_lines(label, matches)},
        )

    def report(saved: BusinessRecord) -> None:
        for hit in hits:
            if hit.object_id is None:
                continue
            rule = next(r for r in rules if r.pk == hit.rule_id)
            record_group(
                spec.object_type,
                rule,
                [hit.object_id, saved.pk],
                similarity=hit.similarity,
                match_key=hit.match_key,
            )

    return report


def record_group(
    object_type: str,
    rule: DuplicateRule | None,
    ids: Sequence[int],
    *,
    similarity: int,
    match_key: str,
) -> DuplicateGroup | None:
    """Record that ``ids`` are probably the same; an open group already holding them is
    reused (members added to it) rather than duplicated. None when nothing new was learnt."""
    members = sorted(set(ids))
    if len(members) < 2:
        return None
    open_groups = DuplicateGroup.objects.filter(
        object_type=object_type,
        status=DuplicateGroupStatus.OPEN,
        members__object_id__in=members,
    ).distinct()
    if rule is not None:
        open_groups = open_groups.filter(rule=rule)
    existing = open_groups.order_by("pk").first()
    if existing is None:
        # A pair someone said are not duplicates stays dismissed.
        dismissed = DuplicateGroup.objects.filter(
            object_type=object_type, status=DuplicateGroupStatus.DISMISSED
        )
        for member in members:
            dismissed = dismissed.filter(members__object_id=member)
        if dismissed.exists():
            return None
        with transaction.atomic():
            group = DuplicateGroup.objects.create(
                object_type=object_type,
                rule=rule,
                similarity=similarity,
                match_key=match_key[:300],
            )
            DuplicateGroupMember.objects.bulk_create(
                [DuplicateGroupMember(group=group, object_id=pk) for pk in members]
            )
        return group
    have = set(existing.members.values_list("object_id", flat=True))
    missing = [pk for pk in members if pk not in have]
    if not missing:
        return None
    DuplicateGroupMember.objects.bulk_create(
        [DuplicateGroupMember(group=existing, object_id=pk) for pk in missing],
        ignore_conflicts=True,
    )
    if similarity < existing.similarity:
        DuplicateGroup.objects.filter(pk=existing.pk).update(similarity=similarity)
    return existing


def record_reported(object_type: str, object_id: int, hits: Sequence[DuplicateHit]) -> int:
    """Record the "report" hits of a saved record (an imported row) as candidate groups;
    the number of groups created or extended. Hits within a batch (no object id) are skipped:
    the scan finds them once both rows are saved."""
    spec = duplicate_object(object_type)
    if spec is None:
        return 0
    wanted = {h.rule_id for h in hits if h.object_id is not None}
    rules = {r.pk: r for r in DuplicateRule.objects.filter(pk__in=wanted)}
    recorded = 0
    for hit in hits:
        if hit.object_id is None or hit.object_id == object_id:
            continue
        if record_group(
            spec.object_type,
            rules.get(hit.rule_id),
            [hit.object_id, object_id],
            similarity=hit.similarity,
            match_key=hit.match_key,
        ):
            recorded += 1
    return recorded


def group_dismiss(*, user: Any, group: DuplicateGroup) -> DuplicateGroup:
    """Mark ``group`` as not duplicates; the scan will not raise the same records again."""
    if group.status != DuplicateGroupStatus.OPEN:
        raise ValidationFailed(
            f"This group is already {group.get_status_display().lower()}.",
            errors={"status": ["Only open groups can be dismissed."]},
        )
    group.status = DuplicateGroupStatus.DISMISSED
    group.resolved_at = timezone.now()
    group.resolved_by = user
    group.save(update_fields=["status", "resolved_at", "resolved_by"])
    return group


# ----- rules -----

RULE_FIELDS = ("object_type", "name", "is_active", "exact_keys", "fuzzy_fields", "threshold")


def _clean_rule(values: dict[str, Any], instance: DuplicateRule) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    object_type = values.get("object_type", instance.object_type)
    spec = duplicate_object(str(object_type or ""))
    if spec is None:
        errors["object_type"] = [
            "Choose an object duplicates can be found for: contacts.contact, contacts.account, "
            "leads.lead or orders.product."
        ]
    else:
        values["object_type"] = spec.object_type
    name = str(values.get("name", instance.name) or "").strip()
    if not name:
        errors["name"] = ["Give the rule a name."]
    values["name"] = name
    exact = values.get("exact_keys", instance.exact_keys) or []
    fuzzy = values.get("fuzzy_fields", instance.fuzzy_fields) or []
    if not isinstance(exact, list) or not all(isinstance(k, str) for k in exact):
        errors["exact_keys"] = ['Send a list of field names, e.g. ["email"].']
        exact = []
    if not isinstance(fuzzy, list) or not all(isinstance(k, str) for k in fuzzy):
        errors["fuzzy_fields"] = ['Send a list of field names, e.g. ["name"].']
        fuzzy = []
    if spec is not None:
        model = spec.model
        names = {f.name for f in model._meta.concrete_fields}
        for key, listed in (("exact_keys", exact), ("fuzzy_fields", fuzzy)):
            unknown = [k for k in listed if k not in names]
            if unknown:
                errors[key] = [f"{', '.join(unknown)}: not a field of {spec.label.lower()}."]
        text_fields = {
            f.name
            for f in model._meta.concrete_fields
            if f.get_internal_type() in ("CharField", "TextField", "EmailField", "URLField")
        }
        not_text = [k for k in fuzzy if k in names and k not in text_fields]
        if not_text:
            errors["fuzzy_fields"] = [f"{', '.join(not_text)}: only text fields can be fuzzy."]
    if not exact and not fuzzy and "exact_keys" not in errors:
        errors["exact_keys"] = ["Give at least one exact key or fuzzy field."]
    values["exact_keys"], values["fuzzy_fields"] = list(exact), list(fuzzy)
    threshold = values.get("threshold", instance.threshold)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or not 0 <= threshold <= 100:
        errors["threshold"] = ["Give a whole number from 0 to 100."]
    action = values.get("action", instance.action)
    if action not in DuplicateAction.values:
        errors["action"] = ["Choose block, warn or report."]
    if errors:
        raise ValidationFailed(
            "The rule is not valid: " + ", ".join(sorted(errors)) + ".", errors=errors
        )
    clash = DuplicateRule.objects.filter(object_type=values["object_type"], name=name)
    if instance.pk:
        clash = clash.exclude(pk=instance.pk)
    if clash.exists():
        raise ValidationFailed(
            "A rule with this name exists for this object.",
            errors={"name": ["Choose another name."]},
        )
    return values


def rule_save(*, user: Any, rule: DuplicateRule | None = None, **values: Any) -> DuplicateRule:
    require_admin(user)
    instance = rule or DuplicateRule()
    allowed = {k: v for k, v in values.items() if k in (*RULE_FIELDS, "action")}
    cleaned = _clean_rule(allowed, instance)
    for name, value in cleaned.items():
        setattr(instance, name, value)
    instance.updated_at = timezone.now()
    instance.save()
    return instance


def rule_delete(*, user: Any, rule: DuplicateRule) -> None:
    require_admin(user)
    rule.delete()
