"""Forms for opportunities and the sales configuration: they type-check input; the services
validate and write."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.urls import reverse

from patron.contacts.forms import RecordPickerField
from patron.contacts.models import Account
from patron.core.forms import RecordForm
from patron.core.record_pages import BulkEditForm
from patron.core.visibility import Principal
from patron.pipeline.choices import ForecastCategory
from patron.pipeline.models import LossReason, Opportunity, Pipeline, Stage
from patron.users.models import Team, User


class StageChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """Stages named with their pipeline when the list spans several pipelines."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.with_pipeline = True

    def label_from_instance(self, obj: Any) -> str:
        stage = cast(Stage, obj)
        return f"{stage.pipeline.name} · {stage.name}" if self.with_pipeline else stage.name


def _current_pipeline(form: forms.Form, instance: Opportunity | None) -> Pipeline | None:
    """The pipeline the stage list is for: the one posted, the record's, or the default."""
    posted = form.data.get("pipeline") if form.is_bound else form.initial.get("pipeline")
    if posted and str(posted).isdigit():
        return Pipeline.objects.filter(pk=posted).first()
    if instance is not None and instance.pk:
        return instance.pipeline
    return Pipeline.objects.filter(active=True).order_by("-is_default", "position", "pk").first()


class OpportunityForm(RecordForm):
    model = Opportunity
    model_fields = [
        "name",
        "account",
        "pipeline",
        "stage",
        "amount",
        "currency",
        "close_date",
        "probability",
        "forecast_category",
        "next_step",
        "source",
        "engaged_on",
        "loss_reason",
        "loss_note",
        "owner",
        "team",
        "description",
    ]
    widgets = {
        "close_date": forms.DateInput(attrs={"type": "date"}),
        "engaged_on": forms.DateInput(attrs={"type": "date"}),
        "description": forms.Textarea(attrs={"rows": 4}),
        "loss_note": forms.Textarea(attrs={"rows": 2}),
        "currency": forms.TextInput(attrs={"maxlength": 3}),
    }
    labels = {"engaged_on": "First engagement", "loss_note": "Loss note"}
    help_texts = {
        "currency": "Three-letter code, e.g. EUR; empty means the organisation's currency.",
    }

    account = RecordPickerField(queryset=Account.objects.none(), required=True, label="Account")
    pipeline = forms.ModelChoiceField(
        queryset=Pipeline.objects.none(), required=False, empty_label="Default pipeline"
    )
    stage = StageChoiceField(
        queryset=Stage.objects.none(), required=False, empty_label="First stage"
    )
    amount = forms.DecimalField(required=False, max_digits=18, decimal_places=2, min_value=0)
    probability = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100,
        label="Probability (%)",
        help_text="Leave empty to use the stage's probability.",
    )
    forecast_category = forms.ChoiceField(
        choices=[("", "From the stage"), *ForecastCategory.choices], required=False
    )
    loss_reason = forms.ModelChoiceField(
        queryset=LossReason.objects.filter(active=True),
        required=False,
        help_text="Required when the stage is a lost stage.",
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True), required=False, empty_label="Me"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, empty_label="No team"
    )

    def __init__(self, *args: Any, user: Principal, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        instance = cast(Opportunity | None, self.instance)
        account_field = cast(RecordPickerField, self.fields["account"])
        current = instance.account if instance is not None and instance.pk else None
        accounts = Account.objects.visible_to(user)
        if current is not None:
            accounts = accounts | Account.objects.filter(pk=current.pk)
        account_field.queryset = accounts.only("id", "name")
        account_field.current = current  # type: ignore[attr-defined]
        pipelines = Pipeline.objects.filter(active=True)
        if instance is not None and instance.pk:
            pipelines = pipelines | Pipeline.objects.filter(pk=instance.pipeline_id)
            if not instance.probability_is_manual:
                self.initial["probability"] = None
        cast(forms.ModelChoiceField, self.fields["pipeline"]).queryset = pipelines  # type: ignore[type-arg]
        chosen = _current_pipeline(self, instance)
        stage_field = cast(StageChoiceField, self.fields["stage"])
        stages = Stage.objects.select_related("pipeline").filter(active=True)
        if chosen is not None:
            stages = stages.filter(pipeline=chosen)
            stage_field.with_pipeline = False
        if instance is not None and instance.pk:
            stages = stages | Stage.objects.filter(pk=instance.stage_id)
        stage_field.queryset = stages.order_by("pipeline__position", "position", "pk")
        # Choosing another pipeline refreshes the stage list with that pipeline's stages.
        own_url = (
            reverse("pipeline:opportunity_edit", args=[instance.pk])
            if instance is not None and instance.pk
            else reverse("pipeline:opportunity_create")
        )
        self.fields["pipeline"].widget.attrs.update(
            {
                "hx-post": own_url,
                "hx-trigger": "change",
                "hx-target": "#field-id_stage",
                "hx-select": "#field-id_stage",
                "hx-swap": "outerHTML",
                "aria-controls": "id_stage",
            }
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        stage, pipeline = data.get("stage"), data.get("pipeline")
        if stage is not None and pipeline is not None and stage.pipeline_id != pipeline.pk:
            self.add_error("stage", f"Choose a stage of “{pipeline.name}”.")
        if stage is not None and pipeline is None:
            data["pipeline"] = stage.pipeline
        return data


class OpportunityBulkEditForm(BulkEditForm):
    close_date = forms.DateField(
        required=False,
        label="Set close date",
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class MoveStageForm(forms.Form):
    """The detail page's "Move to stage" form."""

    stage = forms.ModelChoiceField(queryset=Stage.objects.none(), empty_label=None)
    loss_reason = forms.ModelChoiceField(
        queryset=LossReason.objects.filter(active=True),
        required=False,
        empty_label="Choose a reason",
        help_text="Required when the deal is lost.",
    )
    loss_note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, opportunity: Opportunity, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "move_%s")
        super().__init__(*args, **kwargs)
        stage_field = cast(forms.ModelChoiceField, self.fields["stage"])  # type: ignore[type-arg]
        stage_field.queryset = Stage.objects.filter(
            pipeline_id=opportunity.pipeline_id, active=True
        ).order_by("position", "pk")
        self.initial.setdefault("version", opportunity.version)


# --- sales configuration (admin area) -------------------------------------------------------


class PipelineForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    is_default = forms.BooleanField(required=False, label="Default pipeline")
    active = forms.BooleanField(required=False, initial=True)
    position = forms.IntegerField(required=False, min_value=0, label="Order")


class StageForm(forms.Form):
    name = forms.CharField(max_length=100)
    probability = forms.IntegerField(min_value=0, max_value=100, label="Probability (%)")
    forecast_category = forms.ChoiceField(choices=ForecastCategory.choices)
    expected_days = forms.IntegerField(
        required=False,
        min_value=0,
        help_text="Days a deal usually stays; longer marks it as stale on the board.",
    )
    active = forms.BooleanField(required=False, initial=True)


class StageDeleteForm(forms.Form):
    move_to = forms.ModelChoiceField(
        queryset=Stage.objects.none(),
        required=False,
        label="Move its opportunities to",
        empty_label="Choose a stage",
    )

    def __init__(self, *args: Any, stage: Stage, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        move_to = cast(forms.ModelChoiceField, self.fields["move_to"])  # type: ignore[type-arg]
        move_to.queryset = stage.pipeline.stages.exclude(pk=stage.pk).filter(active=True)


class LossReasonForm(forms.Form):
    name = forms.CharField(max_length=100)
    active = forms.BooleanField(required=False, initial=True)
    position = forms.IntegerField(required=False, min_value=0, label="Order")


class ExchangeRateForm(forms.Form):
    currency = forms.CharField(max_length=3, help_text="Three-letter code, e.g. USD.")
    rate = forms.DecimalField(
        max_digits=18,
        decimal_places=8,
        help_text="How many units of the organisation's currency one unit is worth.",
    )
    valid_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
