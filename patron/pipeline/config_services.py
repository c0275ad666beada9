"""Sales configuration (administrators only): pipelines and their stages, loss reasons and
exchange rates.

Stages and loss reasons referenced by opportunities are protected by the database; these
services turn that into messages that say what to do instead (move the opportunities,
deactivate the reason).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import F, Max, OuterRef, Subquery
from django.db.models.functions import Round
from django.utils import timezone

from patron.core import events, records, search
from patron.core.choices import Via
from patron.core.exceptions import ValidationFailed
from patron.core.models import ExchangeRate
from patron.core.org import org_settings
from patron.core.visibility import require_admin
from patron.pipeline.choices import ForecastCategory
from patron.pipeline.models import LossReason, Opportunity, Pipeline, Stage, StageHistory

ADMIN_ONLY = "Only administrators change the sales configuration."

Errors = dict[str, list[str]]


def _name(value: Any, errors: Errors, *, what: str) -> str:
    name = str(value or "").strip()
    if not name:
        errors["name"] = [f"Give the {what} a name."]
    elif len(name) > 100:
        errors["name"] = ["Use at most 100 characters."]
    return name


# The positions are PostgreSQL integers; a larger one failed in the database (a 500).
POSITION_MAX = 2_147_483_647


def _position(value: Any, errors: Errors) -> int | None:
    if value in (None, ""):
        return None
    try:
        position = int(value)
    except (TypeError, ValueError):
        position = -1
    if not 0 <= position <= POSITION_MAX:
        errors["position"] = [f"The order is a whole number from 0 to {POSITION_MAX:,}."]
        return None
    return position


# --- pipelines ---------------------------------------------------------------------------


def pipeline_save(
    *,
    user: Any,
    pipeline: Pipeline | None = None,
    name: Any,
    description: str = "",
    is_default: bool = False,
    active: bool = True,
    position: Any = None,
) -> Pipeline:
    """Create (``pipeline`` None) or change a pipeline; making it the default un-defaults the
    previous one, so there is always at most one."""
    require_admin(user, ADMIN_ONLY)
    errors: Errors = {}
    clean_name = _name(name, errors, what="pipeline")
    order = _position(position, errors)
    others = Pipeline.objects.exclude(pk=pipeline.pk) if pipeline else Pipeline.objects.all()
    if clean_name and others.filter(name__iexact=clean_name).exists():
        errors["name"] = [f"A pipeline named “{clean_name}” exists already; choose another name."]
    if is_default and not active:
        errors["active"] = ["The default pipeline must be active; make another one the default."]
    if pipeline is not None and pipeline.is_default and not is_default:
        errors["is_default"] = [
            "There must be a default pipeline: make another pipeline the default instead."
        ]
    if errors:
        raise ValidationFailed("The pipeline was not saved.", errors=errors)
    with transaction.atomic():
        if is_default:
            others.filter(is_default=True).update(is_default=False)
        target = pipeline or Pipeline()
        if order is None and pipeline is None:
            order = (Pipeline.objects.aggregate(m=Max("position"))["m"] or 0) + 1
        target.name = clean_name
        target.description = str(description or "").strip()
        target.is_default = bool(is_default) or not others.filter(is_default=True).exists()
        target.active = bool(active)
        if order is not None:
            target.position = order
        target.save()
    return target


def pipeline_delete(*, user: Any, pipeline: Pipeline) -> None:
    require_admin(user, ADMIN_ONLY)
    used = Opportunity.all_objects.filter(pipeline=pipeline).count()
    if used:
        raise ValidationFailed(
            f"“{pipeline.name}” still has {used} opportunities (counting the recycle bin).",
            errors={
                "pipeline": [
                    "Move its opportunities to another pipeline, or deactivate the pipeline "
                    "to hide it from new opportunities."
                ]
            },
        )
    if pipeline.is_default:
        raise ValidationFailed(
            "The default pipeline cannot be deleted.",
            errors={"pipeline": ["Make another pipeline the default first."]},
        )
    if StageHistory.objects.filter(to_stage__pipeline=pipeline).exists():
        raise ValidationFailed(
            f"Past moves of opportunities refer to the stages of “{pipeline.name}”.",
            errors={"pipeline": ["Deactivate the pipeline instead, so the history keeps it."]},
        )
    pipeline.delete()


# --- stages ------------------------------------------------------------------------------


def _probability(value: Any, errors: Errors) -> int:
    try:
        probability = int(value)
    except (TypeError, ValueError):
        probability = -1
    if not 0 <= probability <= 100:
        errors["probability"] = ["The probability is a whole number from 0 to 100."]
    return probability


def _expected_days(value: Any, errors: Errors) -> int | None:
    if value in (None, ""):
        return None
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = -1
    if days < 0:
        errors["expected_days"] = ["Expected days is a whole number, 0 or more (or empty)."]
        return None
    return days


def stage_save(
    *,
    user: Any,
    pipeline: Pipeline,
    stage: Stage | None = None,
    name: Any,
    probability: Any,
    forecast_category: Any,
    expected_days: Any = None,
    active: bool = True,
    position: Any = None,
) -> Stage:
    """Create (``stage`` None, added last) or change a stage of ``pipeline``.

    Opportunities keep the probability and category they have; new moves use the new values.
    """
    require_admin(user, ADMIN_ONLY)
    errors: Errors = {}
    clean_name = _name(name, errors, what="stage")
    clean_probability = _probability(probability, errors)
    if forecast_category not in ForecastCategory.values:
        errors["forecast_category"] = [
            "Choose one of: " + ", ".join(str(label) for label in ForecastCategory.labels) + "."
        ]
    days = _expected_days(expected_days, errors)
    order = _position(position, errors)
    siblings = pipeline.stages.exclude(pk=stage.pk) if stage else pipeline.stages.all()
    if clean_name and siblings.filter(name__iexact=clean_name).exists():
        errors["name"] = [f"“{pipeline.name}” already has a stage named “{clean_name}”."]
    if stage is not None and not active and stage.active:
        in_use = Opportunity.objects.filter(stage=stage).count()
        if in_use:
            errors["active"] = [
                f"{in_use} opportunities are in this stage; move them before deactivating it."
            ]
    if errors:
        raise ValidationFailed("The stage was not saved.", errors=errors)
    target = stage or Stage(pipeline=pipeline)
    if order is None and stage is None:
        order = (siblings.aggregate(m=Max("position"))["m"] or 0) + 1
    renamed = stage is not None and stage.name != clean_name
    target.name = clean_name
    target.probability = clean_probability
    target.forecast_category = str(forecast_category)
    target.expected_days = days
    target.active = bool(active)
    if order is not None:
        target.position = order
    with transaction.atomic():
        target.save()
        if renamed:
            # Search results show each deal's stage name.
            search.index_records(
                Opportunity.objects.filter(stage=target).select_related("account", "stage")
            )
    return target


def stage_reorder(*, user: Any, pipeline: Pipeline, stage_ids: list[int]) -> None:
    """Put the stages of ``pipeline`` in the order of ``stage_ids`` (every stage, once)."""
    require_admin(user, ADMIN_ONLY)
    current = {s.pk: s for s in pipeline.stages.all()}
    if sorted(stage_ids) != sorted(current):
        raise ValidationFailed(
            "The new order must list every stage of the pipeline once.",
            errors={"order": ["Reload the page and try again: the stages have changed."]},
        )
    with transaction.atomic():
        for position, pk in enumerate(stage_ids):
            if current[pk].position != position:
                current[pk].position = position
                current[pk].save(update_fields=["position"])


def stage_shift(*, user: Any, stage: Stage, offset: int) -> None:
    """Move ``stage`` one place up (-1) or down (+1) in its pipeline."""
    ids = list(stage.pipeline.stages.order_by("position", "pk").values_list("pk", flat=True))
    index = ids.index(stage.pk)
    target = index + offset
    if 0 <= target < len(ids):
        ids[index], ids[target] = ids[target], ids[index]
    stage_reorder(user=user, pipeline=stage.pipeline, stage_ids=ids)


def stage_usage(stage: Stage) -> int:
    """Opportunities in ``stage``, counting the recycle bin (they would block deletion)."""
    return Opportunity.all_objects.filter(stage=stage).count()


def _move_for_deletion(user: Any, opportunity: Opportunity, target: Stage) -> None:
    """Move one opportunity out of a stage being deleted.

    An administrator's restructuring, not a sales step: exit criteria are not checked and
    a closed deal keeps its close date, but the derived columns follow the new stage and
    the move is in the stage history like any other.
    """
    now = timezone.now()
    changes: dict[str, Any] = {
        "stage": target,
        "stage_entered_at": now,
        "is_closed": target.is_closed,
        "is_won": target.is_won,
        "forecast_category": target.forecast_category,
    }
    if target.is_closed:
        changes["probability"] = 100 if target.is_won else 0
        changes["closed_on"] = opportunity.closed_on or timezone.localdate()
    else:
        changes["closed_on"] = None
        if not opportunity.probability_is_manual:
            changes["probability"] = target.probability
    if target.forecast_category != ForecastCategory.CLOSED_LOST:
        changes["loss_reason"] = None
    from_stage, entered = opportunity.stage, opportunity.stage_entered_at
    records.record_update(opportunity, changes=changes, actor=user, via=Via.SYSTEM)
    StageHistory.objects.create(
        opportunity=opportunity,
        from_stage=from_stage,
        to_stage=target,
        changed_by_id=getattr(user, "pk", None),
        changed_at=now,
        amount=opportunity.amount,
        currency=opportunity.currency,
        probability=opportunity.probability,
        forecast_category=opportunity.forecast_category,
        close_date=opportunity.close_date,
        seconds_in_from_stage=max(0, int((now - entered).total_seconds())),
    )
    events.emit(
        "opportunity.stage_changed",
        pk=opportunity.pk,
        actor_id=getattr(user, "pk", None),
        from_stage_id=from_stage.pk,
        to_stage_id=target.pk,
    )


def stage_delete(*, user: Any, stage: Stage, move_to: Stage | None = None) -> int:
    """Delete ``stage``, first moving its opportunities to ``move_to`` (same pipeline).

    Returns how many opportunities moved. A stage that past moves refer to stays in the
    database as an inactive stage, so the stage history and reports keep its name.
    """
    require_admin(user, ADMIN_ONLY)
    in_stage = list(Opportunity.all_objects.filter(stage=stage).select_related("stage"))
    if in_stage and move_to is None:
        raise ValidationFailed(
            f"{len(in_stage)} opportunities are in “{stage.name}”.",
            errors={"move_to": ["Choose the stage to move them to before deleting this one."]},
        )
    if move_to is not None and (move_to.pipeline_id != stage.pipeline_id or move_to == stage):
        raise ValidationFailed(
            "Choose another stage of the same pipeline.",
            errors={
                "move_to": [f"Pick a stage of “{stage.pipeline.name}” other than “{stage.name}”."]
            },
        )
    with transaction.atomic():
        if move_to is not None:
            for opportunity in in_stage:
                _move_for_deletion(user, opportunity, move_to)
        if StageHistory.objects.filter(to_stage=stage).exists():
            stage.active = False
            stage.save(update_fields=["active"])
        else:
            stage.delete()
    return len(in_stage)


# --- loss reasons ------------------------------------------------------------------------


def loss_reason_save(
    *,
    user: Any,
    reason: LossReason | None = None,
    name: Any,
    active: bool = True,
    position: Any = None,
) -> LossReason:
    require_admin(user, ADMIN_ONLY)
    errors: Errors = {}
    clean_name = _name(name, errors, what="loss reason")
    order = _position(position, errors)
    others = LossReason.objects.exclude(pk=reason.pk) if reason else LossReason.objects.all()
    if clean_name and others.filter(name__iexact=clean_name).exists():
        errors["name"] = [f"The loss reason “{clean_name}” exists already."]
    if errors:
        raise ValidationFailed("The loss reason was not saved.", errors=errors)
    target = reason or LossReason()
    if order is None and reason is None:
        order = (LossReason.objects.aggregate(m=Max("position"))["m"] or 0) + 1
    target.name = clean_name
    target.active = bool(active)
    if order is not None:
        target.position = order
    target.save()
    return target


def loss_reason_delete(*, user: Any, reason: LossReason) -> None:
    require_admin(user, ADMIN_ONLY)
    used = Opportunity.all_objects.filter(loss_reason=reason).count()
    if used:
        raise ValidationFailed(
            f"{used} lost opportunities give “{reason.name}” as their reason.",
            errors={
                "reason": ["Deactivate it instead: it stays on those deals but is not offered."]
            },
        )
    reason.delete()


# --- exchange rates ----------------------------------------------------------------------


def exchange_rate_save(
    *,
    user: Any,
    rate: ExchangeRate | None = None,
    currency: Any,
    value: Any,
    valid_from: Any,
) -> ExchangeRate:
    """Record that one ``currency`` is worth ``value`` units of the organisation's currency
    from ``valid_from`` on."""
    require_admin(user, ADMIN_ONLY)
    errors: Errors = {}
    code = str(currency or "").strip().upper()
    org_currency = org_settings().default_currency.upper()
    if not (len(code) == 3 and code.isalpha()):
        errors["currency"] = ["Use a three-letter currency code such as EUR or USD."]
    elif code == org_currency:
        errors["currency"] = [f"{org_currency} is the organisation's currency; its rate is 1."]
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        amount = Decimal(0)
    if not amount.is_finite() or amount <= 0 or amount >= Decimal("1e10"):
        errors["rate"] = [f"The rate is a positive number: how many {org_currency} one unit is."]
    start: datetime.date | None = None
    if isinstance(valid_from, datetime.date):
        start = valid_from
    else:
        try:
            start = datetime.date.fromisoformat(str(valid_from or "").strip())
        except ValueError:
            errors["valid_from"] = ["Write the date as YYYY-MM-DD, e.g. 2027-01-01."]
    if start and "currency" not in errors:
        clash = ExchangeRate.objects.filter(currency=code, valid_from=start)
        if rate is not None:
            clash = clash.exclude(pk=rate.pk)
        if clash.exists():
            errors["valid_from"] = [f"{code} already has a rate from {start}; edit that one."]
    if errors or start is None:
        raise ValidationFailed("The exchange rate was not saved.", errors=errors)
    currencies = {code, rate.currency} if rate is not None else {code}
    target = rate or ExchangeRate()
    with _reconverting(currencies):
        target.currency = code
        target.rate = amount.quantize(Decimal("0.00000001"))
        target.valid_from = start
        target.save()
    return target


def exchange_rate_delete(*, user: Any, rate: ExchangeRate) -> None:
    require_admin(user, ADMIN_ONLY)
    with _reconverting({rate.currency}):
        # A queryset delete leaves ``rate`` intact if the change is refused and rolled back.
        ExchangeRate.objects.filter(pk=rate.pk).delete()


def _rate_in_force(currency: str) -> Subquery:
    """The rate of ``currency`` in force on the outer opportunity's close date."""
    return Subquery(
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=OuterRef("close_date"))
        .order_by("-valid_from")
        .values("rate")[:1]
    )


def _uncovered(currency: str) -> int:
    """Opportunities in ``currency`` with an amount but no rate in force on their close date."""
    return (
        Opportunity.all_objects.filter(currency=currency, amount__isnull=False)
        .annotate(rate_in_force=_rate_in_force(currency))
        .filter(rate_in_force__isnull=True)
        .count()
    )


@contextmanager
def _reconverting(currencies: set[str]) -> Iterator[None]:
    """Change the rate table in the block, then convert the affected opportunities' amounts
    again (one UPDATE per currency); a change that leaves deals without a rate is undone."""
    before = {currency: _uncovered(currency) for currency in currencies}
    with transaction.atomic():
        yield
        for currency in sorted(currencies):
            uncovered = _uncovered(currency)
            if uncovered > before[currency]:
                raise ValidationFailed(
                    f"{uncovered} opportunities in {currency} would have no exchange rate.",
                    errors={
                        "valid_from": [
                            f"Their close dates fall before any other {currency} rate: add an "
                            "earlier rate first, or keep this one."
                        ]
                    },
                )
            Opportunity.all_objects.filter(currency=currency, amount__isnull=False).update(
                amount_org=Round(F("amount") * _rate_in_force(currency), 2)
            )
