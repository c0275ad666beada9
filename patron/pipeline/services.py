"""The write path for opportunities: create, update, move between stages, delete, restore.

Every stage change, from the form, the board, the API or an import, goes through
``_apply_stage`` so that guards (e.g. playbook exit criteria) are checked, the history row is
written and the derived columns (probability, forecast category, closed flags, org-currency
amount) stay consistent with the stage.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from patron.core import events, records
from patron.core.choices import Action, Via
from patron.core.currency import to_org_currency
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.org import org_settings
from patron.core.visibility import Principal, can_access
from patron.pipeline.choices import ForecastCategory
from patron.pipeline.models import LossReason, Opportunity, Pipeline, Stage, StageHistory

# guard(user, opportunity, from_stage, to_stage) -> what is missing, in words; an empty list
# lets the move happen. ``opportunity`` already carries the other changes of the same save.
StageGuard = Callable[[Any, Opportunity, Stage | None, Stage], list[str]]
_stage_guards: list[StageGuard] = []


def register_stage_guard(guard: StageGuard) -> None:
    """Check every stage move with ``guard`` (call from ``AppConfig.ready``)."""
    if guard not in _stage_guards:
        _stage_guards.append(guard)


def default_pipeline() -> Pipeline | None:
    return Pipeline.objects.filter(active=True).order_by("-is_default", "position", "pk").first()


def first_stage(pipeline: Pipeline) -> Stage | None:
    return pipeline.stages.filter(active=True).order_by("position", "pk").first()


def _as_date(value: Any, field: str, errors: dict[str, list[str]]) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        errors.setdefault(field, []).append(
            f"“{value}” is not a date; write it as YYYY-MM-DD, e.g. 2027-03-31."
        )
        return None


def _as_amount(value: Any, errors: dict[str, list[str]]) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        errors.setdefault("amount", []).append(f"“{value}” is not an amount.")
        return None
    if not amount.is_finite() or amount < 0:
        errors.setdefault("amount", []).append("The amount must be zero or more.")
        return None
    if abs(amount) >= Decimal("1e16"):
        errors.setdefault("amount", []).append("The amount is too large.")
        return None
    return amount.quantize(Decimal("0.01"))


def _clean(
    user: Principal, fields: dict[str, Any], instance: Opportunity, *, via: str
) -> dict[str, Any]:
    """Validated field values (errors keyed by field); stage handling is left to the caller."""
    errors: dict[str, list[str]] = {}
    values = dict(fields)
    if "name" in values:
        values["name"] = str(values["name"] or "").strip()
        if not values["name"]:
            errors["name"] = ["Give the opportunity a name."]
    if "close_date" in values:
        values["close_date"] = _as_date(values["close_date"], "close_date", errors)
        if values["close_date"] is None and "close_date" not in errors:
            errors["close_date"] = ["Set the expected close date."]
    if "engaged_on" in values:
        values["engaged_on"] = _as_date(values["engaged_on"], "engaged_on", errors)
    if "amount" in values:
        values["amount"] = _as_amount(values["amount"], errors)
    if "currency" in values:
        values["currency"] = str(values["currency"] or "").strip().upper()
        if values["currency"] and not (
            len(values["currency"]) == 3 and values["currency"].isalpha()
        ):
            errors["currency"] = ["Use a three-letter currency code such as EUR or USD."]
    if "probability" in values and values["probability"] not in (None, ""):
        try:
            probability = int(values["probability"])
        except (TypeError, ValueError):
            probability = -1
        if not 0 <= probability <= 100:
            errors["probability"] = ["The probability is a whole number from 0 to 100."]
        values["probability"] = probability
    if "forecast_category" in values and values["forecast_category"] not in (
        None,
        "",
        *ForecastCategory.values,
    ):
        errors["forecast_category"] = [
            "Choose one of: " + ", ".join(str(label) for label in ForecastCategory.labels) + "."
        ]
    account = values.get("account")
    changing_account = account is not None and account.pk != instance.account_id
    if changing_account and account is not None and not can_access(user, account, Action.READ):
        errors["account"] = ["Choose an account you can see."]
    if not instance.pk and values.get("account") is None and via != Via.IMPORT:
        errors.setdefault("account", []).append("Choose the account (company or person).")
    if errors:
        raise ValidationFailed("The opportunity was not saved.", errors=errors)
    return values


def _apply_stage(
    user: Principal,
    opportunity: Opportunity,
    values: dict[str, Any],
    *,
    stage_changed: bool,
    via: str,
) -> None:
    """Bring the derived columns in line with the stage on ``opportunity`` (already set)."""
    stage = opportunity.stage
    if stage.pipeline_id != opportunity.pipeline_id:
        raise ValidationFailed(
            "The stage is not part of the opportunity's pipeline.",
            errors={
                "stage": [
                    f"“{stage.name}” belongs to another pipeline; choose a stage of "
                    f"“{opportunity.pipeline.name}”."
                ]
            },
        )
    if "probability" in values:
        if values["probability"] in (None, ""):
            opportunity.probability = stage.probability
            opportunity.probability_is_manual = False
        else:
            opportunity.probability_is_manual = True
    elif stage_changed:
        opportunity.probability = stage.probability
        opportunity.probability_is_manual = False
    if stage.is_closed:
        opportunity.forecast_category = stage.forecast_category
        opportunity.probability = 100 if stage.is_won else 0
    elif stage_changed and not values.get("forecast_category"):
        opportunity.forecast_category = stage.forecast_category
    was_closed = opportunity.is_closed
    opportunity.is_closed = stage.is_closed
    opportunity.is_won = stage.is_won
    if stage.is_closed and (not was_closed or opportunity.closed_on is None):
        opportunity.closed_on = values.get("closed_on") or timezone.localdate()
    if not stage.is_closed:
        opportunity.closed_on = None
    lost = stage.forecast_category == ForecastCategory.CLOSED_LOST
    if lost and opportunity.loss_reason_id is None and via != Via.IMPORT:
        raise ValidationFailed(
            "Say why the opportunity was lost.",
            errors={"loss_reason": ["Choose a loss reason: it is required when a deal is lost."]},
        )
    if not lost:
        opportunity.loss_reason = None
    if stage_changed:
        missing = [
            message
            for guard in _stage_guards
            for message in guard(user, opportunity, values.get("_from_stage"), stage)
        ]
        if missing:
            raise ValidationFailed(
                f"Not ready to move to “{stage.name}”: " + " ".join(missing),
                errors={"stage": missing},
            )


def _record_move(
    user: Principal, opportunity: Opportunity, from_stage: Stage | None, entered: datetime.datetime
) -> None:
    now = timezone.now()
    StageHistory.objects.create(
        opportunity=opportunity,
        from_stage=from_stage,
        to_stage=opportunity.stage,
        changed_by_id=getattr(user, "pk", None),
        changed_at=now,
        amount=opportunity.amount,
        currency=opportunity.currency,
        probability=opportunity.probability,
        forecast_category=opportunity.forecast_category,
        close_date=opportunity.close_date,
        seconds_in_from_stage=(
            max(0, int((now - entered).total_seconds())) if from_stage is not None else None
        ),
    )
    events.emit(
        "opportunity.stage_changed",
        pk=opportunity.pk,
        actor_id=getattr(user, "pk", None),
        from_stage_id=from_stage.pk if from_stage else None,
        to_stage_id=opportunity.stage_id,
    )


def _org_amount(opportunity: Opportunity) -> Decimal | None:
    return to_org_currency(opportunity.amount, opportunity.currency, opportunity.close_date)


def opportunity_create(*, user: Principal, via: str = Via.UI, **fields: Any) -> Opportunity:
    if not user.access_profile().may(Opportunity.object_type(), Action.CREATE):
        raise PermissionDenied("Your role may not create opportunities.")
    instance = Opportunity()
    values = _clean(user, fields, instance, via=via)
    given_stage = values.get("stage")
    pipeline = values.get("pipeline") or (given_stage.pipeline if given_stage else None)
    pipeline = pipeline or default_pipeline()
    if pipeline is None:
        raise ValidationFailed(
            "There is no pipeline yet.",
            errors={"pipeline": ["An administrator creates a pipeline with stages first."]},
        )
    stage = values.get("stage") or first_stage(pipeline)
    if stage is None:
        raise ValidationFailed(
            "The pipeline has no stages.",
            errors={"stage": [f"An administrator adds stages to “{pipeline.name}” first."]},
        )
    values.update(pipeline=pipeline, stage=stage)
    values.setdefault("owner", user)
    if values.get("amount") is not None and not values.get("currency"):
        values["currency"] = org_settings().default_currency
    plain = {k: v for k, v in values.items() if not k.startswith("_")}
    opportunity = Opportunity(**{k: v for k, v in plain.items() if k != "probability"})
    opportunity.probability = stage.probability
    if not values.get("forecast_category"):
        opportunity.forecast_category = stage.forecast_category
    _apply_stage(user, opportunity, values, stage_changed=True, via=via)
    if "probability" in values and values["probability"] not in (None, ""):
        opportunity.probability = values["probability"]
    opportunity.amount_org = _org_amount(opportunity)
    opportunity.stage_entered_at = timezone.now()
    with transaction.atomic():
        opportunity = records.record_create(opportunity, actor=user, via=via)
        _record_move(user, opportunity, None, opportunity.stage_entered_at)
    return opportunity


DERIVED_FIELDS = (
    "probability",
    "probability_is_manual",
    "forecast_category",
    "is_closed",
    "is_won",
    "closed_on",
    "loss_reason",
    "amount_org",
    "stage_entered_at",
)


def opportunity_update(
    *,
    user: Principal,
    opportunity: Opportunity,
    expected_version: int | None = None,
    via: str = Via.UI,
    **fields: Any,
) -> Opportunity:
    """Change ``fields``; a new ``stage`` is a move (guards, history, derived columns)."""
    values = _clean(user, fields, opportunity, via=via)
    from_stage = opportunity.stage
    entered = opportunity.stage_entered_at
    working = Opportunity.all_objects.get(pk=opportunity.pk)
    for name, value in values.items():
        if name != "probability":
            setattr(working, name, value)
    if "pipeline" in values and "stage" not in values:
        stage = first_stage(working.pipeline)
        if stage is None:
            raise ValidationFailed(
                "The pipeline has no stages.",
                errors={"pipeline": ["Choose a pipeline with stages."]},
            )
        working.stage = stage
    stage_changed = working.stage_id != from_stage.pk
    if "probability" in values and values["probability"] not in (None, ""):
        working.probability = values["probability"]
    _apply_stage(
        user, working, {**values, "_from_stage": from_stage}, stage_changed=stage_changed, via=via
    )
    if working.amount is not None and not working.currency:
        working.currency = org_settings().default_currency
    working.amount_org = _org_amount(working)
    if stage_changed:
        working.stage_entered_at = timezone.now()
    changes = {
        name: getattr(working, name)
        for name in {*(k for k in values if not k.startswith("_")), *DERIVED_FIELDS}
    }
    if stage_changed or "pipeline" in values:
        changes["stage"] = working.stage
        changes["pipeline"] = working.pipeline
    if "currency" not in changes and working.currency != opportunity.currency:
        changes["currency"] = working.currency
    with transaction.atomic():
        opportunity = records.record_update(
            opportunity, changes=changes, actor=user, via=via, expected_version=expected_version
        )
        if stage_changed:
            _record_move(user, opportunity, from_stage, entered)
    return opportunity


def opportunity_move_stage(
    *,
    user: Principal,
    opportunity: Opportunity,
    stage: Stage,
    expected_version: int | None = None,
    loss_reason: LossReason | None = None,
    loss_note: str = "",
    via: str = Via.UI,
) -> Opportunity:
    """Move to ``stage`` (the board, the API's move endpoint); see ``opportunity_update``."""
    fields: dict[str, Any] = {"stage": stage}
    if loss_reason is not None:
        fields["loss_reason"] = loss_reason
    if loss_note:
        fields["loss_note"] = loss_note
    return opportunity_update(
        user=user,
        opportunity=opportunity,
        expected_version=expected_version,
        via=via,
        **fields,
    )


def opportunity_delete(
    *, user: Principal, opportunity: Opportunity, via: str = Via.UI
) -> Opportunity:
    return records.record_soft_delete(opportunity, actor=user, via=via)


def opportunity_restore(
    *, user: Principal, opportunity: Opportunity, via: str = Via.UI
) -> Opportunity:
    return records.record_restore(opportunity, actor=user, via=via)
