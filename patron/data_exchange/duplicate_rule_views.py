"""Duplicate rules page (administrators): list, create, edit, activate/deactivate and delete
the rules of Data → Duplicates. Thin views over duplicate_services.rule_save / rule_delete,
the same writes the rules API makes, so every check (known object, keys that are fields of
that object, text-only fuzzy fields, threshold 0-100, at least one key) lives there and its
errors come back on the matching form field."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from patron.core.exceptions import PatronError, ValidationFailed
from patron.core.forms import add_service_errors
from patron.core.views import handles_domain_errors
from patron.data_exchange import duplicate_services
from patron.data_exchange.choices import DuplicateAction
from patron.data_exchange.duplicate_matching import (
    DuplicateObject,
    duplicate_object,
    duplicate_objects,
)
from patron.data_exchange.models import DuplicateRule

# Keys duplicate_matching normalises before comparing (when the object has the field).
NORMALISED_KEYS = {
    "email": "Email (normalised)",
    "phone": "Phone (E.164)",
    "domain": "Web domain",
}
TEXT_TYPES = ("CharField", "TextField", "EmailField", "URLField")

View = Callable[..., HttpResponse]


def rules_admin(view: View) -> View:
    """Signed-in users the rule services accept (duplicate_services.require_admin, the same
    check as the rules API); anyone else gets 403, anonymous users the login page."""

    @login_required
    @handles_domain_errors
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        duplicate_services.require_admin(request.user)
        return view(request, *args, **kwargs)

    return wrapper


def _fields(spec: DuplicateObject) -> dict[str, models.Field[Any, Any]]:
    return {f.name: f for f in spec.model._meta.concrete_fields}


def exact_key_choices(spec: DuplicateObject, keep: list[str]) -> list[tuple[str, str]]:
    """The keys offered for ``spec``: normalised email/phone/domain, unique fields (SKU) and
    the references shown on the merge page (account, parent); ``keep`` (a rule's current keys)
    is always listed so editing never drops one silently."""
    fields = _fields(spec)
    choices = [(k, label) for k, label in NORMALISED_KEYS.items() if k in fields]
    for name, field in fields.items():
        if name in NORMALISED_KEYS or field.primary_key:
            continue
        identifier = field.unique or (
            field.many_to_one and name in spec.display_fields and name != "owner"
        )
        if identifier:
            choices.append((name, str(field.verbose_name).capitalize()))
    offered = {k for k, _ in choices}
    choices += [(k, k) for k in keep if k not in offered]
    return choices


def fuzzy_field_choices(spec: DuplicateObject, keep: list[str]) -> list[tuple[str, str]]:
    fields = _fields(spec)
    choices = [
        (name, str(field.verbose_name).capitalize())
        for name, field in fields.items()
        if field.get_internal_type() in TEXT_TYPES and name in spec.display_fields
    ]
    offered = {k for k, _ in choices}
    return choices + [(k, k) for k in keep if k not in offered]


class OpenMultipleChoiceField(forms.MultipleChoiceField):
    """Accepts any submitted value: duplicate_services decides which keys are valid."""

    def valid_value(self, value: Any) -> bool:
        return True


class RuleForm(forms.Form):
    object_type = forms.ChoiceField(label="Object")
    name = forms.CharField(max_length=120, required=False)
    exact_keys = OpenMultipleChoiceField(
        label="Exact keys",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Records match when all of these are equal after normalising.",
    )
    fuzzy_fields = OpenMultipleChoiceField(
        label="Fuzzy fields",
        required=False,
        help_text="Text compared for similarity (hold Ctrl or Shift to choose several).",
    )
    threshold = forms.IntegerField(
        label="Threshold (0-100)",
        required=False,
        help_text="Fuzzy similarity needed for a match, in percent.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    action = forms.ChoiceField(label="Action on create and import", choices=DuplicateAction.choices)
    is_active = forms.BooleanField(label="Active", required=False)

    def __init__(
        self, *args: Any, spec: DuplicateObject | None, keep: dict[str, list[str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["object_type"]).choices = [
            (s.object_type, s.label) for s in duplicate_objects()
        ]
        exact = cast(forms.MultipleChoiceField, self.fields["exact_keys"])
        fuzzy = cast(forms.MultipleChoiceField, self.fields["fuzzy_fields"])
        if spec is not None:
            exact.choices = exact_key_choices(spec, keep.get("exact_keys", []))
            fuzzy.choices = fuzzy_field_choices(spec, keep.get("fuzzy_fields", []))
        fuzzy.widget.attrs["size"] = 6


def _values(rule: DuplicateRule | None) -> dict[str, Any]:
    if rule is None:
        first = duplicate_objects()
        return {
            "object_type": first[0].object_type if first else "",
            "threshold": 90,
            "action": DuplicateAction.WARN,
            "is_active": True,
            "exact_keys": [],
            "fuzzy_fields": [],
        }
    return {
        "object_type": rule.object_type,
        "name": rule.name,
        "exact_keys": list(rule.exact_keys),
        "fuzzy_fields": list(rule.fuzzy_fields),
        "threshold": rule.threshold,
        "action": rule.action,
        "is_active": rule.is_active,
    }


@rules_admin
def rule_list(request: HttpRequest) -> HttpResponse:
    labels = {s.object_type: s.label for s in duplicate_objects()}
    rules = list(DuplicateRule.objects.all())
    for rule in rules:
        rule.object_label = labels.get(rule.object_type, rule.object_type)  # type: ignore[attr-defined]
    return render(request, "data_exchange/duplicate_rules.html", {"rules": rules})


@rules_admin
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    rule = get_object_or_404(DuplicateRule, pk=pk) if pk else None
    initial = _values(rule)
    data = request.POST if request.method == "POST" else None
    object_type = (data or request.GET).get("object_type", initial["object_type"])
    spec = duplicate_object(object_type) or duplicate_object(initial["object_type"])
    keep = {
        "exact_keys": data.getlist("exact_keys") if data else initial["exact_keys"],
        "fuzzy_fields": data.getlist("fuzzy_fields") if data else initial["fuzzy_fields"],
    }
    if data is not None and data.get("reload"):
        # "Show fields for this object": redraw the choices, keep what was typed, save nothing.
        values = {
            **initial,
            **{k: data.get(k) for k in ("object_type", "name", "threshold", "action")},
            **keep,
            "is_active": bool(data.get("is_active")),
        }
        form = RuleForm(initial=values, spec=spec, keep=keep)
    else:
        form = RuleForm(data, initial=initial, spec=spec, keep=keep)
    if data is not None and not data.get("reload") and form.is_valid():
        cleaned = form.cleaned_data
        threshold = cleaned["threshold"]
        try:
            saved = duplicate_services.rule_save(
                user=request.user,
                rule=rule,
                object_type=cleaned["object_type"],
                name=cleaned["name"],
                exact_keys=list(cleaned["exact_keys"]),
                fuzzy_fields=list(cleaned["fuzzy_fields"]),
                threshold=initial["threshold"] if threshold is None else threshold,
                action=cleaned["action"],
                is_active=cleaned["is_active"],
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Rule “{saved.name}” saved.")
            return redirect("data_exchange:duplicate_rules")
    heading = f"Edit rule “{rule.name}”" if rule else "New duplicate rule"
    return render(
        request,
        "data_exchange/duplicate_rule_form.html",
        {"form": form, "rule": rule, "heading": heading, "spec": spec},
        status=422 if form.errors else 200,
    )


@rules_admin
@require_POST
def rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(DuplicateRule, pk=pk)
    try:
        duplicate_services.rule_save(user=request.user, rule=rule, is_active=not rule.is_active)
    except PatronError as error:
        details = [m for found in error.errors.values() for m in found]
        messages.error(request, " ".join([error.detail, *details]))
    else:
        state = "active" if rule.is_active else "inactive"
        messages.success(request, f"Rule “{rule.name}” is now {state}.")
    return redirect("data_exchange:duplicate_rules")


@rules_admin
@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(DuplicateRule, pk=pk)
    name = rule.name
    duplicate_services.rule_delete(user=request.user, rule=rule)
    messages.success(request, f"Rule “{name}” deleted; groups it found stay in the list.")
    return redirect("data_exchange:duplicate_rules")
