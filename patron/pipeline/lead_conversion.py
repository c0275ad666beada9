"""The opportunity step of lead conversion (leads sits below pipeline, so pipeline registers it).

When the conversion asks for an opportunity, it is created through ``opportunity_create`` in
the chosen pipeline and stage, on the conversion's account, with the contact in a role, all
inside the conversion's transaction: a refused opportunity rolls the conversion back.
"""

from __future__ import annotations

from typing import Any

from django import forms

from patron.core.exceptions import ValidationFailed
from patron.leads.conversion import ConversionContext, ConversionStep, register_conversion_step
from patron.pipeline.choices import OpportunityContactRoleKind
from patron.pipeline.models import Pipeline, Stage
from patron.pipeline.related_services import opportunity_contact_add
from patron.pipeline.services import opportunity_create

OPPORTUNITY_KEYS = frozenset(
    {"name", "pipeline", "stage", "amount", "currency", "close_date", "contact_role"}
)


def _resolve(model: Any, value: Any, field: str, errors: dict[str, list[str]]) -> Any:
    if value in (None, ""):
        return None
    if isinstance(value, model):
        return value
    found = None
    if str(value).isdigit():
        found = model.objects.filter(pk=int(str(value)), active=True).first()
    if found is None:
        errors[f"opportunity.{field}"] = [f"No active {field} with id {value}."]
    return found


def create_opportunity_step(context: ConversionContext) -> None:
    wanted = context.options.get("opportunity")
    if not wanted:
        return
    errors: dict[str, list[str]] = {}
    unknown = set(wanted) - OPPORTUNITY_KEYS
    for name in sorted(unknown):
        errors[f"opportunity.{name}"] = ["Unknown opportunity field."]
    pipeline = _resolve(Pipeline, wanted.get("pipeline"), "pipeline", errors)
    stage = _resolve(Stage, wanted.get("stage"), "stage", errors)
    if stage is not None and pipeline is not None and stage.pipeline_id != pipeline.pk:
        errors["opportunity.stage"] = [f"The stage {stage} is not in the pipeline {pipeline}."]
    role = wanted.get("contact_role") or OpportunityContactRoleKind.DECISION_MAKER
    if role not in OpportunityContactRoleKind.values:
        errors["opportunity.contact_role"] = [
            "Choose one of: " + ", ".join(OpportunityContactRoleKind.values) + "."
        ]
    if not wanted.get("close_date"):
        errors["opportunity.close_date"] = ["Set the expected close date of the opportunity."]
    if errors:
        raise ValidationFailed("The opportunity is not valid.", errors=errors)
    lead = context.lead
    fields: dict[str, Any] = {
        "name": wanted.get("name") or f"{lead.company or lead} opportunity",
        "account": context.account,
        "close_date": wanted.get("close_date"),
        "amount": wanted.get("amount"),
        "source": lead.get_source_display(),
    }
    if wanted.get("currency"):
        fields["currency"] = wanted["currency"]
    if pipeline is not None:
        fields["pipeline"] = pipeline
    if stage is not None:
        fields["stage"] = stage
    try:
        opportunity = opportunity_create(user=context.user, via=context.via, **fields)
        opportunity_contact_add(
            user=context.user,
            opportunity=opportunity,
            contact_id=context.contact.pk,
            role=role,
            is_primary=True,
            via=context.via,
        )
    except ValidationFailed as exc:
        raise ValidationFailed(
            f"The opportunity was not created: {exc.detail}",
            errors={f"opportunity.{name}": messages for name, messages in exc.errors.items()},
        ) from exc
    context.made["opportunity"] = opportunity
    context.lead_changes["converted_opportunity_id"] = opportunity.pk


def _stage_label(stage: Stage) -> str:
    return f"{stage.pipeline.name}: {stage.name}"


def opportunity_form_fields() -> dict[str, Any]:
    """The conversion page's opportunity fields (named ``opportunity_<name>`` there)."""
    stage = forms.ModelChoiceField(
        queryset=Stage.objects.filter(active=True, pipeline__active=True)
        .select_related("pipeline")
        .order_by("pipeline__position", "pipeline_id", "position", "pk"),
        required=False,
        empty_label="First stage",
    )
    stage.label_from_instance = _stage_label  # type: ignore[method-assign,assignment]
    return {
        "create": forms.BooleanField(required=False, label="Create an opportunity"),
        "name": forms.CharField(required=False, max_length=255, label="Opportunity name"),
        "pipeline": forms.ModelChoiceField(
            queryset=Pipeline.objects.filter(active=True).order_by("position", "pk"),
            required=False,
            empty_label="Default pipeline",
        ),
        "stage": stage,
        "amount": forms.DecimalField(required=False, min_value=0, max_digits=18, decimal_places=2),
        "close_date": forms.DateField(
            required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Close date"
        ),
        "contact_role": forms.ChoiceField(
            choices=OpportunityContactRoleKind.choices,
            initial=OpportunityContactRoleKind.DECISION_MAKER,
            required=False,
            label="The contact's role",
        ),
    }


def opportunity_options(values: dict[str, Any]) -> dict[str, Any] | None:
    """The step's input from the page's fields; None unless "Create an opportunity" is on."""
    if not values.get("create"):
        return None
    return {name: value for name, value in values.items() if name != "create"}


def register_lead_conversion() -> None:
    """Register the opportunity conversion step with ``leads.conversion``."""
    register_conversion_step(
        ConversionStep(
            key="opportunity",
            label="Opportunity (optional)",
            run=create_opportunity_step,
            form_fields=opportunity_form_fields,
            options=opportunity_options,
        )
    )
