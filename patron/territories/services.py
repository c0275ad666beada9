"""Every write of territory management: models, territories, rules, members, quotas,
assignments (on save, by hand, in batch) and activation. Administrators only, except the
assignment on save, which follows the record's own write.

Errors are ``ValidationFailed`` keyed by the field at fault, so pages show them inline and
the API answers 422 naming the problem.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import F, Model, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone

from patron.core import events
from patron.core.choices import Via
from patron.core.exceptions import ValidationFailed
from patron.core.jobs import job_execute, job_progress, job_start
from patron.core.models import ChangeLogEntry, Job
from patron.core.visibility import require_admin
from patron.territories.choices import (
    NUMERIC_FIELDS,
    MemberRole,
    ModelState,
    RuleField,
    RuleOperator,
)
from patron.territories.matching import (
    Matcher,
    Node,
    compile_rule,
    normalise_postal,
    postal_shape,
    to_decimal,
)
from patron.territories.models import (
    Territory,
    TerritoryAssignment,
    TerritoryMember,
    TerritoryModel,
    TerritoryQuota,
    TerritoryRule,
)
from patron.territories.registry import (
    TerritorySubject,
    on_subject_registered,
    subject_for_model,
    territory_subjects,
)

ADMIN_ONLY = "Only administrators change territories."

Errors = dict[str, list[str]]

ASSIGN_JOB_KIND = "territories.assign"
ASSIGN_TASK = "patron.territories.tasks.territory_assignment_run"
CHUNK = 1000
MAX_AMOUNT = Decimal("9999999999999999.99")
MAX_VALUES = 500


def _fail(message: str, errors: Errors) -> None:
    if errors:
        raise ValidationFailed(message, errors=errors)


def _editable(model: TerritoryModel) -> None:
    if model.state == ModelState.ARCHIVED:
        raise ValidationFailed(
            "An archived territory model cannot be changed.",
            errors={"model": [f"“{model.name}” is archived; copy it into a planning model."]},
        )


def _touch(model: TerritoryModel) -> None:
    model.rules_changed_at = timezone.now()
    TerritoryModel.objects.filter(pk=model.pk).update(rules_changed_at=model.rules_changed_at)


def _audit(model: TerritoryModel, *, actor: Any, action: str, changes: dict[str, Any]) -> None:
    ChangeLogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(TerritoryModel),
        object_id=model.pk,
        actor=actor if getattr(actor, "pk", None) else None,
        via=Via.UI,
        action=action,
        changes=changes,
    )


# --- territory models -------------------------------------------------------------------------


def _model_name(name: Any, errors: Errors) -> str:
    text = str(name or "").strip()
    if not text:
        errors["name"] = ["Give the model a name, like “FY2027 realignment”."]
    elif len(text) > 200:
        errors["name"] = ["Use at most 200 characters."]
    return text


def model_create(*, user: Any, name: str, description: str = "") -> TerritoryModel:
    """A new, empty planning model."""
    require_admin(user, ADMIN_ONLY)
    errors: Errors = {}
    text = _model_name(name, errors)
    _fail("The territory model was not created.", errors)
    return TerritoryModel.objects.create(
        name=text, description=str(description or "").strip(), created_by=user
    )


def model_update(
    *, user: Any, model: TerritoryModel, name: str, description: str = ""
) -> TerritoryModel:
    require_admin(user, ADMIN_ONLY)
    errors: Errors = {}
    text = _model_name(name, errors)
    _fail("The territory model was not saved.", errors)
    model.name, model.description = text, str(description or "").strip()
    model.save(update_fields=["name", "description"])
    return model


@transaction.atomic
def model_copy(*, user: Any, source: TerritoryModel, name: str = "") -> TerritoryModel:
    """A planning model with a copy of ``source``'s territories, rules, members, quotas and
    manual assignments; each copied territory remembers its original for the comparison."""
    require_admin(user, ADMIN_ONLY)
    errors: Errors = {}
    text = _model_name(name or f"Copy of {source.name}", errors)
    _fail("The territory model was not copied.", errors)
    copy = TerritoryModel.objects.create(
        name=text, description=source.description, created_by=user, copied_from=source
    )
    mapping: dict[int, Territory] = {}
    # Ordered by path, so every parent is copied before its children.
    for territory in Territory.objects.filter(model=source).order_by("depth", "path"):
        parent = mapping.get(territory.parent_id) if territory.parent_id else None
        clone = Territory.objects.create(
            model=copy,
            parent=parent,
            name=territory.name,
            description=territory.description,
            priority=territory.priority,
            depth=territory.depth,
            source=territory,
        )
        clone.path = f"{parent.path if parent else ''}{clone.pk}."
        clone.save(update_fields=["path"])
        mapping[territory.pk] = clone
    TerritoryRule.objects.bulk_create(
        TerritoryRule(
            territory=mapping[rule.territory_id],
            field=rule.field,
            operator=rule.operator,
            values=rule.values,
            low=rule.low,
            high=rule.high,
        )
        for rule in TerritoryRule.objects.filter(territory__model=source)
    )
    TerritoryMember.objects.bulk_create(
        TerritoryMember(territory=mapping[m.territory_id], user_id=m.user_id, role=m.role)
        for m in TerritoryMember.objects.filter(territory__model=source)
    )
    TerritoryQuota.objects.bulk_create(
        TerritoryQuota(
            territory=mapping[q.territory_id],
            period_start=q.period_start,
            period_end=q.period_end,
            amount=q.amount,
            currency=q.currency,
        )
        for q in TerritoryQuota.objects.filter(territory__model=source)
    )
    manual = TerritoryAssignment.objects.filter(model=source, is_manual=True).iterator(CHUNK)
    TerritoryAssignment.objects.bulk_create(
        (
            TerritoryAssignment(
                model=copy,
                territory=mapping[a.territory_id],
                content_type_id=a.content_type_id,
                object_id=a.object_id,
                is_manual=True,
            )
            for a in manual
        ),
        batch_size=CHUNK,
    )
    _audit(copy, actor=user, action="copy", changes={"copied_from": [None, source.pk]})
    return copy


@transaction.atomic
def model_activate(*, user: Any, model: TerritoryModel) -> Job:
    """Make a planning model the active one: the active one is archived, the change is
    logged, and the records' assignments are recomputed in a background job (returned)."""
    require_admin(user, ADMIN_ONLY)
    locked = TerritoryModel.objects.select_for_update().get(pk=model.pk)
    if locked.state != ModelState.PLANNING:
        raise ValidationFailed(
            "Only a planning model can be activated.",
            errors={"state": [f"“{locked.name}” is {locked.get_state_display().lower()}."]},
        )
    now = timezone.now()
    previous = TerritoryModel.objects.select_for_update().filter(state=ModelState.ACTIVE).first()
    if previous is not None:
        previous.state, previous.archived_at = ModelState.ARCHIVED, now
        previous.save(update_fields=["state", "archived_at"])
        _audit(previous, actor=user, action="archive", changes={"state": ["active", "archived"]})
    locked.state, locked.activated_at, locked.activated_by = ModelState.ACTIVE, now, user
    try:
        with transaction.atomic():
            locked.save(update_fields=["state", "activated_at", "activated_by"])
    except IntegrityError:
        raise ValidationFailed(
            "Another model was activated at the same time; reload and try again.",
            errors={"state": ["Another model is active."]},
        ) from None
    _audit(
        locked,
        actor=user,
        action="activate",
        changes={"state": ["planning", "active"], "replaced": [previous and previous.pk, None]},
    )
    model.state, model.activated_at = locked.state, locked.activated_at
    return assignment_run_start(user=user, model=locked)


@transaction.atomic
def model_archive(*, user: Any, model: TerritoryModel) -> TerritoryModel:
    """Archive a model (an active one leaves no territory model active)."""
    require_admin(user, ADMIN_ONLY)
    if model.state == ModelState.ARCHIVED:
        raise ValidationFailed(
            "The model is archived already.", errors={"state": ["It is archived already."]}
        )
    before = model.state
    model.state, model.archived_at = ModelState.ARCHIVED, timezone.now()
    model.save(update_fields=["state", "archived_at"])
    _audit(model, actor=user, action="archive", changes={"state": [before, "archived"]})
    return model


def model_delete(*, user: Any, model: TerritoryModel) -> None:
    require_admin(user, ADMIN_ONLY)
    if model.state != ModelState.PLANNING:
        raise ValidationFailed(
            "Only a planning model can be deleted.",
            errors={"state": ["Active and archived models are kept as history."]},
        )
    model.delete()


# --- territories ------------------------------------------------------------------------------


def _priority(value: Any, errors: Errors) -> int:
    try:
        number = int(value if value not in (None, "") else 0)
    except (TypeError, ValueError):
        errors["priority"] = ["Enter a whole number (higher wins among equally deep matches)."]
        return 0
    if abs(number) > 1_000_000:
        errors["priority"] = ["Use a number between -1000000 and 1000000."]
    return number


@transaction.atomic
def territory_save(
    *,
    user: Any,
    model: TerritoryModel,
    name: str,
    territory: Territory | None = None,
    parent: Territory | None = None,
    description: str = "",
    priority: Any = 0,
) -> Territory:
    """Create or update a territory; a parent must be in the same model and not below it."""
    require_admin(user, ADMIN_ONLY)
    _editable(model)
    errors: Errors = {}
    text = str(name or "").strip()
    if not text:
        errors["name"] = ["Give the territory a name."]
    elif len(text) > 200:
        errors["name"] = ["Use at most 200 characters."]
    elif (
        Territory.objects.filter(model=model, name__iexact=text)
        .exclude(pk=territory.pk if territory else 0)
        .exists()
    ):
        errors["name"] = [f"This model already has a territory named “{text}”."]
    rank = _priority(priority, errors)
    if parent is not None:
        if parent.model_id != model.pk:
            errors["parent"] = [
                f"“{parent.name}” belongs to another territory model; choose a parent in "
                f"“{model.name}”."
            ]
        elif territory is not None and (
            parent.pk == territory.pk or parent.path.startswith(territory.path)
        ):
            where = "the territory itself" if parent.pk == territory.pk else "below this territory"
            errors["parent"] = [
                f"“{parent.name}” is {where}: a territory cannot be its own ancestor "
                "(cyclical parents)."
            ]
    _fail("The territory was not saved.", errors)
    if territory is None:
        territory = Territory.objects.create(
            model=model,
            parent=parent,
            name=text,
            description=str(description or "").strip(),
            priority=rank,
            depth=parent.depth + 1 if parent else 0,
        )
        territory.path = f"{parent.path if parent else ''}{territory.pk}."
        territory.save(update_fields=["path"])
    else:
        old_path, old_depth = territory.path, territory.depth
        territory.name, territory.description, territory.priority = (
            text,
            str(description or "").strip(),
            rank,
        )
        territory.parent = parent
        new_path = f"{parent.path if parent else ''}{territory.pk}."
        territory.save(update_fields=["name", "description", "priority", "parent"])
        if new_path != old_path:
            delta = (parent.depth + 1 if parent else 0) - old_depth
            # One UPDATE moves the whole subtree: swap the path prefix, shift the depth.
            Territory.objects.filter(model=model, path__startswith=old_path).update(
                path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
                depth=F("depth") + delta,
            )
            territory.refresh_from_db(fields=["path", "depth"])
            _check_sibling_overlaps(territory)
    _touch(model)
    return territory


def territory_delete(*, user: Any, territory: Territory) -> None:
    require_admin(user, ADMIN_ONLY)
    _editable(territory.model)
    if territory.children.exists():
        raise ValidationFailed(
            "The territory has sub-territories.",
            errors={"territory": ["Move or delete its sub-territories first."]},
        )
    model = territory.model
    territory.delete()
    _touch(model)


# --- rules ------------------------------------------------------------------------------------


def _rule_errors(field_name: str, operator: str, values: list[str], low: str, high: str) -> Errors:
    errors: Errors = {}
    if field_name not in RuleField.values:
        errors["field"] = [
            f"“{field_name}” is not a rule field; use one of {', '.join(RuleField.values)}."
        ]
        return errors
    if operator not in RuleOperator.values:
        errors["operator"] = ["Use “in” (one of a list of values) or “range” (low to high)."]
        return errors
    if operator == RuleOperator.IN:
        if not values:
            errors["values"] = ["List at least one value."]
        elif len(values) > MAX_VALUES:
            errors["values"] = [f"List at most {MAX_VALUES} values; use a range instead."]
        elif field_name in NUMERIC_FIELDS and any(to_decimal(v) is None for v in values):
            bad = next(v for v in values if to_decimal(v) is None)
            errors["values"] = [f"“{bad}” is not a number."]
        return errors
    if field_name in (RuleField.COUNTRY, RuleField.REGION, RuleField.INDUSTRY):
        errors["operator"] = [f"{RuleField(field_name).label} takes a list of values, not a range."]
        return errors
    if not low and not high:
        errors["low"] = ["Give a low bound, a high bound or both."]
        return errors
    if field_name in NUMERIC_FIELDS:
        low_n, high_n = to_decimal(low), to_decimal(high)
        if low and low_n is None:
            errors["low"] = [f"“{low}” is not a number."]
        if high and high_n is None:
            errors["high"] = [f"“{high}” is not a number."]
        if low_n is not None and high_n is not None and low_n > high_n:
            errors["high"] = [f"The high bound {high} is below the low bound {low}."]
        return errors
    low_c, high_c = normalise_postal(low), normalise_postal(high)
    if low_c and high_c:
        if postal_shape(low_c) != postal_shape(high_c):
            errors["high"] = [
                f"“{low}” and “{high}” are not in the same postal-code format; a range "
                "compares codes of one format (same length, digits and letters in the same "
                "places)."
            ]
        elif low_c > high_c:
            errors["high"] = [f"The high bound {high} is below the low bound {low}."]
    return errors


def _clean_values(values: Any) -> list[str]:
    if isinstance(values, str):
        values = re.split(r"[,\n;]", values)
    return [str(v).strip() for v in values or [] if str(v).strip()]


def _postal_span(rule: TerritoryRule) -> tuple[str, str, str] | None:
    """(shape, low, high) of a postal-code rule; an "in" rule spans each listed code."""
    low, high = normalise_postal(rule.low), normalise_postal(rule.high)
    bound = low or high
    if not bound:
        return None
    shape = postal_shape(bound)
    return shape, low or "", high or "\uffff"


def _overlap(a: TerritoryRule, b: TerritoryRule) -> str | None:
    """The first postal code (or range) both rules would claim, if any."""
    if a.operator == RuleOperator.IN and b.operator == RuleOperator.IN:
        both = {normalise_postal(v) for v in a.values} & {normalise_postal(v) for v in b.values}
        return min(both) if both else None
    if a.operator == RuleOperator.IN:
        a, b = b, a
    span = _postal_span(a)
    if span is None:
        return None
    shape, low, high = span
    if b.operator == RuleOperator.IN:
        for value in b.values:
            code = normalise_postal(value)
            if postal_shape(code) == shape and low <= code <= high:
                return code
        return None
    other = _postal_span(b)
    if other is None or other[0] != shape:
        return None
    start, end = max(low, other[1]), min(high, other[2])
    if start > end:
        return None
    return f"{start} to {end}" if start != end else start


def _sibling_overlap_error(territory: Territory, rules: Iterable[TerritoryRule]) -> str | None:
    postal = [rule for rule in rules if rule.field == RuleField.POSTAL_CODE]
    if not postal:
        return None
    siblings = (
        TerritoryRule.objects.filter(
            field=RuleField.POSTAL_CODE,
            territory__model_id=territory.model_id,
            territory__parent_id=territory.parent_id,
        )
        .exclude(territory_id=territory.pk)
        .select_related("territory")
    )
    for other in siblings:
        for rule in postal:
            shared = _overlap(rule, other)
            if shared:
                what = _describe(other)
                return (
                    f"Postal codes {shared} are also claimed by “{other.territory.name}” "
                    f"({what}) at the same level; make the ranges not overlap."
                )
    return None


def _check_sibling_overlaps(territory: Territory) -> None:
    message = _sibling_overlap_error(territory, territory.rules.all())
    if message:
        raise ValidationFailed("Overlapping postal-code ranges.", errors={"parent": [message]})


def _describe(rule: TerritoryRule) -> str:
    if rule.operator == RuleOperator.IN:
        return ", ".join(str(v) for v in rule.values)
    return f"{rule.low or '…'} to {rule.high or '…'}"


def _build_rule(territory: Territory, data: Mapping[str, Any]) -> tuple[TerritoryRule, Errors]:
    field_name = str(data.get("field") or "").strip()
    operator = str(data.get("operator") or "").strip()
    values = _clean_values(data.get("values"))
    low, high = str(data.get("low") or "").strip(), str(data.get("high") or "").strip()
    errors = _rule_errors(field_name, operator, values, low, high)
    rule = TerritoryRule(
        territory=territory,
        field=field_name,
        operator=operator,
        values=values if operator == RuleOperator.IN else [],
        low=low if operator == RuleOperator.RANGE else "",
        high=high if operator == RuleOperator.RANGE else "",
    )
    if len(low) > 40 or len(high) > 40:
        errors["low"] = ["Bounds are at most 40 characters."]
    return rule, errors


@transaction.atomic
def rule_add(*, user: Any, territory: Territory, data: Mapping[str, Any]) -> TerritoryRule:
    """Add one rule (``field``, ``operator``, ``values`` or ``low``/``high``)."""
    require_admin(user, ADMIN_ONLY)
    _editable(territory.model)
    rule, errors = _build_rule(territory, data)
    _fail("The rule was not added.", errors)
    message = _sibling_overlap_error(territory, [rule])
    if message:
        raise ValidationFailed("Overlapping postal-code ranges.", errors={"low": [message]})
    rule.save()
    _touch(territory.model)
    return rule


@transaction.atomic
def rule_delete(*, user: Any, rule: TerritoryRule) -> None:
    require_admin(user, ADMIN_ONLY)
    _editable(rule.territory.model)
    rule.delete()
    _touch(rule.territory.model)


@transaction.atomic
def territory_set_rules(
    *, user: Any, territory: Territory, rules: list[Mapping[str, Any]]
) -> list[TerritoryRule]:
    """Replace a territory's rules with ``rules`` (the rule rows of the form): all or none;
    errors are keyed ``rules.<row>.<field>``."""
    require_admin(user, ADMIN_ONLY)
    _editable(territory.model)
    errors: Errors = {}
    built: list[TerritoryRule] = []
    for index, data in enumerate(rules):
        if not any(str(data.get(key) or "").strip() for key in ("values", "low", "high")):
            continue  # an empty row of the form
        rule, row_errors = _build_rule(territory, data)
        for name, messages in row_errors.items():
            errors[f"rules.{index}.{name}"] = messages
        built.append(rule)
    _fail("The rules were not saved.", errors)
    message = _sibling_overlap_error(territory, built)
    if message:
        raise ValidationFailed("Overlapping postal-code ranges.", errors={"rules": [message]})
    TerritoryRule.objects.filter(territory=territory).delete()
    saved = TerritoryRule.objects.bulk_create(built)
    _touch(territory.model)
    return saved


# --- members and quotas -----------------------------------------------------------------------


def member_set(*, user: Any, territory: Territory, member: Any, role: str) -> TerritoryMember:
    """Add ``member`` to the territory with ``role`` (or change the role they have)."""
    require_admin(user, ADMIN_ONLY)
    _editable(territory.model)
    if role not in MemberRole.values:
        raise ValidationFailed(
            "Unknown role.",
            errors={"role": [f"Use one of {', '.join(MemberRole.values)}."]},
        )
    if member is None or not getattr(member, "is_active", False):
        raise ValidationFailed("Unknown user.", errors={"user": ["Choose an active user."]})
    row, _ = TerritoryMember.objects.update_or_create(
        territory=territory, user=member, defaults={"role": role}
    )
    return row


def member_remove(*, user: Any, member: TerritoryMember) -> None:
    require_admin(user, ADMIN_ONLY)
    _editable(member.territory.model)
    member.delete()


def quota_set(
    *,
    user: Any,
    territory: Territory,
    period_start: datetime.date | None,
    period_end: datetime.date | None,
    amount: Any,
    currency: str,
) -> TerritoryQuota:
    """Set the territory's quota for a period (replacing one starting the same day)."""
    require_admin(user, ADMIN_ONLY)
    _editable(territory.model)
    errors: Errors = {}
    if period_start is None:
        errors["period_start"] = ["Give the period's first day (YYYY-MM-DD)."]
    if period_end is None:
        errors["period_end"] = ["Give the period's last day (YYYY-MM-DD)."]
    elif period_start is not None and period_end < period_start:
        errors["period_end"] = ["The period ends before it starts."]
    value = to_decimal(amount)
    if value is None or value < 0 or value > MAX_AMOUNT:
        errors["amount"] = ["Enter an amount of 0 or more, like 250000."]
    code = str(currency or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        errors["currency"] = ["Use a three-letter currency code, like USD."]
    _fail("The quota was not saved.", errors)
    assert value is not None
    assert period_start is not None
    assert period_end is not None
    quota, _ = TerritoryQuota.objects.update_or_create(
        territory=territory,
        period_start=period_start,
        defaults={
            "period_end": period_end,
            "amount": value.quantize(Decimal("0.01")),
            "currency": code,
        },
    )
    return quota


def quota_delete(*, user: Any, quota: TerritoryQuota) -> None:
    require_admin(user, ADMIN_ONLY)
    _editable(quota.territory.model)
    quota.delete()


# --- assignment -------------------------------------------------------------------------------


def load_matcher(model: TerritoryModel) -> Matcher:
    """The model's territories and rules (two queries)."""
    nodes = {
        pk: Node(pk=pk, parent_id=parent_id, depth=depth, priority=priority)
        for pk, parent_id, depth, priority in Territory.objects.filter(model=model).values_list(
            "pk", "parent_id", "depth", "priority"
        )
    }
    for rule in TerritoryRule.objects.filter(territory__model=model):
        nodes[rule.territory_id].rules[rule.field].append(
            compile_rule(rule.field, rule.operator, rule.values, rule.low, rule.high)
        )
    return Matcher(nodes.values())


def active_model() -> TerritoryModel | None:
    return TerritoryModel.objects.filter(state=ModelState.ACTIVE).first()


def _assigned_models() -> list[TerritoryModel]:
    """The active model and the planning models whose assignments were previewed: the ones
    that keep assignments up to date as records change."""
    return list(
        TerritoryModel.objects.filter(state=ModelState.ACTIVE)
        | TerritoryModel.objects.filter(state=ModelState.PLANNING, assigned_at__isnull=False)
    )


def _assign_in(
    model: TerritoryModel, matcher: Matcher, subject: TerritorySubject, obj: Model
) -> TerritoryAssignment | None:
    content_type = ContentType.objects.get_for_model(subject.model)
    current = TerritoryAssignment.objects.filter(
        model=model, content_type=content_type, object_id=obj.pk
    ).first()
    if current is not None and current.is_manual:
        return current
    territory_id = matcher.match(subject.attributes(obj))
    if territory_id is None:
        if current is not None:
            current.delete()
        return None
    if current is None:
        return TerritoryAssignment.objects.create(
            model=model, territory_id=territory_id, content_type=content_type, object_id=obj.pk
        )
    if current.territory_id != territory_id:
        current.territory_id, current.assigned_at = territory_id, timezone.now()
        current.save(update_fields=["territory", "assigned_at"])
    return current


@transaction.atomic
def territory_assign_record(*, obj: Model) -> TerritoryAssignment | None:
    """Assign ``obj`` by the active model's rules (and in previewed planning models); a
    manual assignment is kept. Returns the active model's assignment (None: no territory)."""
    subject = subject_for_model(type(obj))
    if subject is None:
        raise ValueError(f"{type(obj).__name__} is not a registered territory subject.")
    result = None
    for model in _assigned_models():
        assignment = _assign_in(model, load_matcher(model), subject, obj)
        if model.state == ModelState.ACTIVE:
            result = assignment
    return result


def _record(subject: TerritorySubject, object_id: Any) -> Model:
    obj = subject.model._default_manager.filter(pk=object_id).first()
    if obj is None:
        raise ValidationFailed(
            "Unknown record.",
            errors={"object_id": [f"There is no {subject.object_type} with id {object_id}."]},
        )
    return obj


@transaction.atomic
def assignment_set_manual(*, user: Any, territory: Territory, obj: Model) -> TerritoryAssignment:
    """Put ``obj`` in ``territory`` by hand: kept when the rules run again."""
    require_admin(user, ADMIN_ONLY)
    _editable(territory.model)
    subject = subject_for_model(type(obj))
    if subject is None:
        raise ValidationFailed(
            "This kind of record has no territory.",
            errors={
                "object_type": [f"{type(obj)._meta.label_lower} is not assigned to territories."]
            },
        )
    assignment, _ = TerritoryAssignment.objects.update_or_create(
        model=territory.model,
        content_type=ContentType.objects.get_for_model(subject.model),
        object_id=obj.pk,
        defaults={"territory": territory, "is_manual": True, "assigned_at": timezone.now()},
    )
    return assignment


@transaction.atomic
def assignment_clear_manual(
    *, user: Any, model: TerritoryModel, obj: Model
) -> TerritoryAssignment | None:
    """Drop a manual assignment: the record goes back to the territory its rules give."""
    require_admin(user, ADMIN_ONLY)
    _editable(model)
    subject = subject_for_model(type(obj))
    if subject is None:
        return None
    TerritoryAssignment.objects.filter(
        model=model,
        content_type=ContentType.objects.get_for_model(subject.model),
        object_id=obj.pk,
    ).delete()
    return _assign_in(model, load_matcher(model), subject, obj)


def record_for(object_type: str, object_id: Any) -> Model:
    """The record of a registered kind, for the API and pages that name one by type and id."""
    from patron.territories.registry import territory_subject

    subject = territory_subject(object_type)
    if subject is None:
        names = ", ".join(s.object_type for s in territory_subjects())
        raise ValidationFailed(
            "Unknown record type.",
            errors={"object_type": [f"“{object_type}” is not one of {names}."]},
        )
    return _record(subject, object_id)


# --- the batch run ----------------------------------------------------------------------------


def assignment_run_start(*, user: Any, model: TerritoryModel) -> Job:
    """Recompute every record's assignment in ``model`` in a background job."""
    require_admin(user, ADMIN_ONLY)
    if model.state == ModelState.ARCHIVED:
        raise ValidationFailed(
            "An archived model is not assigned.",
            errors={"model": [f"“{model.name}” is archived."]},
        )
    return job_start(
        kind=ASSIGN_JOB_KIND,
        user=user,
        params={"model": model.pk, "name": model.name},
        task_name=ASSIGN_TASK,
    )


def _chunks(subject: TerritorySubject) -> Iterator[list[Model]]:
    """The subject's records in pk order, CHUNK at a time (keyset, so memory stays flat)."""
    manager = subject.model._default_manager
    last: Any = None
    while True:
        rows = manager.order_by("pk")
        if last is not None:
            rows = rows.filter(pk__gt=last)
        chunk = list(rows[:CHUNK])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


def assign_all(model: TerritoryModel, job: Job | None = None) -> dict[str, int]:
    """Assign every record of every subject in ``model`` by its rules, chunk by chunk (each
    chunk its own transaction, so a rerun after a lost worker just redoes the work).
    Manual assignments are kept. Returns counts."""
    matcher = load_matcher(model)
    started = timezone.now()
    subjects = territory_subjects()
    total = sum(s.model._default_manager.count() for s in subjects)
    counts = {"records": 0, "assigned": 0, "changed": 0, "unassigned": 0, "manual": 0}
    if job is not None:
        job_progress(job, done=0, total=total, message=f"Assigning {total:,} records")
    for subject in subjects:
        content_type = ContentType.objects.get_for_model(subject.model)
        for chunk in _chunks(subject):
            with transaction.atomic():
                _assign_chunk(model, matcher, subject, content_type, chunk, counts)
            counts["records"] += len(chunk)
            if job is not None:
                job_progress(job, done=counts["records"])
    TerritoryModel.objects.filter(pk=model.pk).update(assigned_at=started)
    return counts


def _assign_chunk(
    model: TerritoryModel,
    matcher: Matcher,
    subject: TerritorySubject,
    content_type: ContentType,
    chunk: list[Model],
    counts: dict[str, int],
) -> None:
    existing = {
        a.object_id: a
        for a in TerritoryAssignment.objects.filter(
            model=model, content_type=content_type, object_id__in=[obj.pk for obj in chunk]
        )
    }
    now = timezone.now()
    create, update, drop = [], [], []
    for obj in chunk:
        current = existing.get(obj.pk)
        if current is not None and current.is_manual:
            counts["manual"] += 1
            continue
        territory_id = matcher.match(subject.attributes(obj))
        if territory_id is None:
            if current is not None:
                drop.append(current.pk)
            continue
        counts["assigned"] += 1
        if current is None:
            create.append(
                TerritoryAssignment(
                    model=model,
                    territory_id=territory_id,
                    content_type=content_type,
                    object_id=obj.pk,
                    assigned_at=now,
                )
            )
        elif current.territory_id != territory_id:
            current.territory_id, current.assigned_at = territory_id, now
            update.append(current)
    TerritoryAssignment.objects.bulk_create(create, ignore_conflicts=True)
    TerritoryAssignment.objects.bulk_update(update, ["territory", "assigned_at"])
    TerritoryAssignment.objects.filter(pk__in=drop).delete()
    counts["changed"] += len(update) + len(create)
    counts["unassigned"] += len(drop)


def _run(job: Job) -> dict[str, Any]:
    model = TerritoryModel.objects.filter(pk=job.params.get("model")).first()
    if model is None or model.state == ModelState.ARCHIVED:
        return {"skipped": "The model was deleted or archived before the run."}
    return dict(assign_all(model, job))


def assignment_run(*, job_id: int) -> None:
    """The body of the background batch run: safe to run again for the same job."""
    job_execute(job_id, _run)


# --- reacting to record saves -----------------------------------------------------------------


def _on_record_saved(subject: TerritorySubject) -> events.Handler:
    def handler(event: str, payload: dict[str, Any]) -> None:
        obj = subject.model._default_manager.filter(pk=payload.get("pk")).first()
        if obj is not None:
            territory_assign_record(obj=obj)

    return handler


def _subscribe(subject: TerritorySubject) -> None:
    label = subject.model._meta.model_name
    handler = _on_record_saved(subject)
    for verb in ("created", "updated", "restored"):
        events.subscribe(f"{label}.{verb}", handler)


def connect() -> None:
    """Assign records of every registered subject when they are saved."""
    on_subject_registered(_subscribe)
