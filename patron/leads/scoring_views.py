"""Scoring pages: the administrators' rules and model page (rules CRUD, model status, refit
on demand) and the "Score" card on every lead's page."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from patron.core.context_processors import NavItem, register_nav_item
from patron.core.exceptions import ValidationFailed
from patron.core.jobs import JobKind, job_start, register_job_kind
from patron.core.models import Job
from patron.core.record_pages import DetailPanel, register_detail_panel
from patron.core.views import handles_domain_errors
from patron.leads.choices import ScoringKind
from patron.leads.models import Lead, ScoringRule
from patron.leads.policy_services import lead_settings
from patron.leads.scoring import (
    OPERATOR_LABELS,
    describe_rule,
    fit_fields,
    scoring_rule_create,
    scoring_rule_delete,
    scoring_rule_get,
    scoring_rule_update,
)
from patron.leads.scoring_model import current_model, history
from patron.leads.scoring_sources import behaviour_sources
from patron.leads.tasks import REFIT_JOB_KIND, REFIT_JOB_TASK
from patron.users.admin_views import admin_required
from patron.users.models import User


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


class ScoringRuleForm(forms.Form):
    """Shape only; the service validates the rule against the lead's fields."""

    name = forms.CharField(max_length=150)
    kind = forms.ChoiceField(choices=ScoringKind.choices, initial=ScoringKind.FIT)
    field = forms.ChoiceField(required=False, label="Lead field (fit rules)")
    operator = forms.ChoiceField(required=False, label="Condition (fit rules)")
    value = forms.CharField(
        required=False,
        max_length=1000,
        help_text="For “is one of”, separate values with commas. Leave empty for "
        "“is empty” and “is not empty”.",
    )
    event_type = forms.ChoiceField(required=False, label="Behaviour (behaviour rules)")
    points = forms.IntegerField(help_text="Negative points subtract.")
    max_points = forms.IntegerField(
        required=False,
        label="Cap (behaviour rules)",
        help_text="The most points this behaviour can add (or subtract) however often it happens.",
    )
    position = forms.IntegerField(initial=0, min_value=0)
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        specs = fit_fields()
        cast(forms.ChoiceField, self.fields["field"]).choices = [
            ("", "—"),
            *[(name, spec.label) for name, spec in specs.items()],
        ]
        cast(forms.ChoiceField, self.fields["operator"]).choices = [
            ("", "—"),
            *OPERATOR_LABELS.items(),
        ]
        cast(forms.ChoiceField, self.fields["event_type"]).choices = [
            ("", "—"),
            *[(s.event_type, s.label) for s in behaviour_sources()],
        ]


def _initial(rule: ScoringRule) -> dict[str, Any]:
    value = rule.value
    return {
        "name": rule.name,
        "kind": rule.kind,
        "field": rule.field,
        "operator": rule.operator,
        "value": ", ".join(map(str, value)) if isinstance(value, list) else (value or ""),
        "event_type": rule.event_type,
        "points": rule.points,
        "max_points": rule.max_points,
        "position": rule.position,
        "is_active": rule.is_active,
    }


def _rule_data(form: ScoringRuleForm) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    if data.get("operator") == "in" and isinstance(data.get("value"), str):
        data["value"] = [part.strip() for part in data["value"].split(",") if part.strip()]
    return data


@admin_required
def scoring_page(request: HttpRequest) -> HttpResponse:
    rules = list(ScoringRule.objects.order_by("position", "id"))
    for rule in rules:
        rule.description = describe_rule(rule)  # type: ignore[attr-defined]
    model = current_model()
    reasons: list[tuple[str, float]] = []
    if model is not None:
        ranked = sorted(
            model.features.values(), key=lambda f: abs(float(f["coefficient"])), reverse=True
        )
        reasons = [(str(f["label"]), float(f["coefficient"])) for f in ranked[:10]]
    last_job = Job.objects.filter(kind=REFIT_JOB_KIND).order_by("-created_at", "-id").first()
    context = {
        "rules": rules,
        "model": model,
        "model_weights": reasons,
        "history": history(),
        "policy": lead_settings(),
        "sources": behaviour_sources(),
        "last_job": last_job,
    }
    return render(request, "leads/scoring_admin.html", context)


@admin_required
@require_http_methods(["GET", "POST"])
@handles_domain_errors
def scoring_rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    rule = scoring_rule_get(pk=pk) if pk is not None else None
    initial = _initial(rule) if rule is not None else {"is_active": True, "position": 0}
    form = ScoringRuleForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                if rule is None:
                    scoring_rule_create(user=_user(request), data=_rule_data(form))
                else:
                    scoring_rule_update(user=_user(request), rule=rule, data=_rule_data(form))
            except ValidationFailed as error:
                for name, problems in error.errors.items():
                    for problem in problems:
                        form.add_error(name if name in form.fields else None, problem)
            else:
                messages.success(
                    request, "Saved the scoring rule; open leads are being scored again."
                )
                return redirect("lead_policy:scoring")
        status = 422
    heading = f"Edit scoring rule “{rule.name}”" if rule else "New scoring rule"
    context = {"form": form, "rule": rule, "heading": heading}
    return render(request, "leads/scoring_rule_form.html", context, status=status)


@admin_required
@require_POST
@handles_domain_errors
def scoring_rule_remove(request: HttpRequest, pk: int) -> HttpResponse:
    rule = scoring_rule_get(pk=pk)
    scoring_rule_delete(user=_user(request), rule=rule)
    messages.success(request, f"Deleted the scoring rule “{rule.name}”.")
    return redirect("lead_policy:scoring")


@admin_required
@require_POST
def scoring_refit(request: HttpRequest) -> HttpResponse:
    job = job_start(kind=REFIT_JOB_KIND, user=_user(request), params={}, task_name=REFIT_JOB_TASK)
    messages.info(request, "Learning the score model again; the result shows here when it is done.")
    return redirect("ui:job_detail", pk=job.pk)


# --- the Score card on a lead's page ---------------------------------------------------------


def score_card(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    if not isinstance(record, Lead):
        return None
    explanation = record.score_explanation or {}
    probability = record.score_probability
    return {
        "lead": record,
        "rules": explanation.get("rules") or [],
        "reasons": explanation.get("model") or [],
        "percent": round(probability * 100) if probability is not None else None,
        # Worked out when the lead was scored, so the card costs no query.
        "is_hot": bool(explanation.get("hot")),
    }


def register_scoring_ui() -> None:
    register_detail_panel(
        DetailPanel(
            key="leads.score",
            template="leads/partials/score_card.html",
            context=score_card,
            object_types=frozenset({Lead.object_type()}),
            order=15,
            column="side",
        )
    )
    register_nav_item(
        NavItem(
            area="Admin",
            label="Lead scoring",
            url_name="lead_policy:scoring",
            admin_only=True,
            order=42,
        )
    )
    register_job_kind(JobKind(kind=REFIT_JOB_KIND, label="Learning the lead score model"))
