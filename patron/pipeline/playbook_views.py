"""Playbook pages: the card on an opportunity (guidance, checklist, scripts, exit criteria),
the administrators' pages (create, edit stages and publish, versions, YAML export and import)
and the adherence report."""

from __future__ import annotations

from typing import Any, cast

import yaml
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from patron.core import events
from patron.core.choices import Action
from patron.core.context_processors import NavItem, register_nav_item
from patron.core.exceptions import ValidationFailed
from patron.core.record_pages import DetailPanel, record_detail_url, register_detail_panel
from patron.core.views import handles_domain_errors
from patron.core.visibility import can_access_cached
from patron.pipeline import playbooks
from patron.pipeline.models import Opportunity, Pipeline
from patron.pipeline.selectors import opportunity_get
from patron.pipeline.services import register_stage_guard
from patron.users.admin_views import admin_required
from patron.users.models import User

CARD_ANCHOR = "playbook"
# Upload limit for an imported playbook: a large one is a few dozen kilobytes.
MAX_IMPORT_BYTES = 512 * 1024


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _report(request: HttpRequest, error: ValidationFailed) -> None:
    details = " ".join(message for messages_ in error.errors.values() for message in messages_)
    messages.error(request, f"Nothing was saved. {details or error.detail}")


# --- the card on the opportunity --------------------------------------------------------------


def _card(request: HttpRequest, record: Opportunity) -> dict[str, Any] | None:
    state = playbooks.checklist_state(record)
    if state.version is None:
        return None
    content = state.content
    return {
        "version": state.version,
        "stage": record.stage,
        "content": content,
        "items": state.items,
        "exit_missing": state.exit_missing,
        "has_exit_criteria": bool(
            content and (content["required_fields"] or content["required_checklist"])
        ),
        "may_edit": can_access_cached(_user(request), record, Action.UPDATE),
    }


@login_required
@require_POST
@handles_domain_errors
def checklist_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Tick (``done=1``) or untick an item of the current stage's checklist."""
    user = _user(request)
    opportunity = opportunity_get(user=user, pk=pk, action=Action.UPDATE)
    item = request.POST.get("item", "")
    try:
        if request.POST.get("done") == "1":
            playbooks.checklist_tick(user=user, opportunity=opportunity, item=item)
        else:
            playbooks.checklist_untick(user=user, opportunity=opportunity, item=item)
    except ValidationFailed as error:
        _report(request, error)
    back = record_detail_url(Opportunity.object_type(), pk) or "/"
    return redirect(f"{back}#{CARD_ANCHOR}")


# --- administration ---------------------------------------------------------------------------


class PlaybookCreateForm(forms.Form):
    pipeline = forms.ModelChoiceField(
        queryset=Pipeline.objects.filter(playbooks__isnull=True).order_by("position", "name"),
        empty_label="Choose a pipeline",
    )
    name = forms.CharField(max_length=100)


class ImportForm(forms.Form):
    file = forms.FileField(label="YAML file", help_text="A playbook exported from Patron.")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class StageForm(forms.Form):
    """One stage's content; list fields are one item per line."""

    guidance = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    required_fields = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Required fields (exit criteria)",
    )
    checklist = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One item per line.",
    )
    required_checklist = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Required checklist items (exit criteria)",
        help_text="One per line; each must also be in the checklist.",
    )
    call_script = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    activity_plan = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Activity plan",
        help_text="One task per line: days after entering | subject | priority (optional), "
        "e.g. “2 | Send the proposal | high”.",
    )
    email_templates = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="E-mail templates (YAML)",
        help_text="A list of name, subject and body, as in the exported YAML.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.MultipleChoiceField, self.fields["required_fields"])
        labels = playbooks.requirable_fields()
        field.choices = [(name, labels[name]) for name in sorted(labels, key=labels.__getitem__)]

    @staticmethod
    def initial_for(content: dict[str, Any]) -> dict[str, Any]:
        plan = [
            " | ".join([str(task["day_offset"]), task["subject"], task["priority"]])
            for task in content["activity_plan"]
        ]
        templates = content["email_templates"]
        return {
            "guidance": content["guidance"],
            "required_fields": content["required_fields"],
            "checklist": "\n".join(content["checklist"]),
            "required_checklist": "\n".join(content["required_checklist"]),
            "call_script": content["call_script"],
            "activity_plan": "\n".join(plan),
            "email_templates": yaml.safe_dump(templates, sort_keys=False, allow_unicode=True)
            if templates
            else "",
        }

    def content(self) -> dict[str, Any]:
        """The stage's content for ``validate_definition`` (which reports bad values)."""
        data = self.cleaned_data
        plan: list[Any] = []
        for number, line in enumerate(_lines(data["activity_plan"]), start=1):
            parts = [part.strip() for part in line.split("|")]
            days = parts[0]
            if len(parts) < 2 or not days.isdigit():
                self.add_error(
                    "activity_plan",
                    f"Line {number} of the activity plan: write “days | subject”, "
                    "e.g. “2 | Send the proposal”.",
                )
                continue
            task: dict[str, Any] = {"subject": parts[1], "day_offset": int(days)}
            if len(parts) > 2 and parts[2]:
                task["priority"] = parts[2]
            plan.append(task)
        templates: Any = []
        if data["email_templates"].strip():
            try:
                templates = yaml.safe_load(data["email_templates"])
            except yaml.YAMLError:
                self.add_error(
                    "email_templates",
                    "The e-mail templates are not valid YAML; write a list of "
                    "“- name: …”, “subject: …”, “body: …” entries.",
                )
        return {
            "guidance": data["guidance"],
            "required_fields": list(data["required_fields"]),
            "checklist": _lines(data["checklist"]),
            "required_checklist": _lines(data["required_checklist"]),
            "call_script": data["call_script"],
            "activity_plan": plan,
            "email_templates": templates,
        }


@admin_required
def playbook_list(request: HttpRequest) -> HttpResponse:
    form = PlaybookCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            playbook = playbooks.playbook_create(
                user=_user(request),
                pipeline=form.cleaned_data["pipeline"],
                name=form.cleaned_data["name"],
            )
        except ValidationFailed as error:
            for field, problems in error.errors.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(request, f"Created “{playbook.name}”: fill in its stages and publish.")
            return redirect("pipeline:playbook_edit", pk=playbook.pk)
    return render(
        request,
        "pipeline/playbook_list.html",
        {
            "playbooks": list(playbooks.playbook_list()),
            "form": form,
            "import_form": ImportForm(),
        },
    )


@admin_required
@handles_domain_errors
def playbook_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Every stage's content in one form; saving publishes a new version."""
    playbook = playbooks.playbook_get(pk=pk)
    stages = list(playbook.pipeline.stages.order_by("position", "pk"))
    definition = playbook.active_version.definition if playbook.active_version else {}
    stage_forms = []
    for stage in stages:
        content = playbooks.stage_content(definition, stage.name)
        initial = StageForm.initial_for(content) if content else {}
        data = request.POST if request.method == "POST" else None
        stage_forms.append((stage, StageForm(data, prefix=f"s{stage.pk}", initial=initial)))
    note = request.POST.get("note", "") if request.method == "POST" else ""
    if request.method == "POST" and all(form.is_valid() for _, form in stage_forms):
        contents = {stage.name: form.content() for stage, form in stage_forms}
        if all(not form.errors for _, form in stage_forms):
            # Stages left blank stay out of the definition rather than as empty entries.
            filled = {name: content for name, content in contents.items() if any(content.values())}
            try:
                version = playbooks.playbook_publish_version(
                    user=_user(request),
                    playbook=playbook,
                    definition={"stages": filled},
                    note=note,
                )
            except ValidationFailed as error:
                _report(request, error)
            else:
                messages.success(request, f"Published version {version.number}.")
                return redirect("pipeline:playbook_edit", pk=playbook.pk)
    return render(
        request,
        "pipeline/playbook_edit.html",
        {
            "playbook": playbook,
            "stage_forms": stage_forms,
            "versions": list(playbooks.playbook_versions(playbook=playbook)),
            "note": note,
        },
    )


@admin_required
@handles_domain_errors
def playbook_version_detail(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    playbook = playbooks.playbook_get(pk=pk)
    version = playbooks.playbook_version_get(playbook=playbook, number=number)
    return render(
        request,
        "pipeline/playbook_version.html",
        {
            "playbook": playbook,
            "version": version,
            "yaml": playbooks.playbook_export_yaml(version=version),
        },
    )


@admin_required
@handles_domain_errors
def playbook_export(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    playbook = playbooks.playbook_get(pk=pk)
    version = playbooks.playbook_version_get(playbook=playbook, number=number)
    response = HttpResponse(
        playbooks.playbook_export_yaml(version=version),
        content_type="application/yaml; charset=utf-8",
    )
    filename = f"playbook-{playbook.pk}-v{version.number}.yaml"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin_required
@require_POST
def playbook_import(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Nothing was imported. Choose a YAML file to upload.")
        return redirect("pipeline:playbook_list")
    upload = form.cleaned_data["file"]
    if upload.size > MAX_IMPORT_BYTES:
        messages.error(request, "Nothing was imported. The file is larger than 512 KB.")
        return redirect("pipeline:playbook_list")
    try:
        text = upload.read().decode("utf-8")
    except UnicodeDecodeError:
        messages.error(request, "Nothing was imported. Save the file as UTF-8 text.")
        return redirect("pipeline:playbook_list")
    try:
        version = playbooks.playbook_import_yaml(user=_user(request), text=text)
    except ValidationFailed as error:
        _report(request, error)
        return redirect("pipeline:playbook_list")
    messages.success(request, f"Imported “{version.playbook.name}” as version {version.number}.")
    return redirect("pipeline:playbook_edit", pk=version.playbook_id)


@login_required
@handles_domain_errors
def playbook_adherence(request: HttpRequest, pk: int) -> HttpResponse:
    playbook = playbooks.playbook_get(pk=pk)
    rows = playbooks.playbook_adherence(user=_user(request), playbook=playbook)
    return render(request, "pipeline/playbook_adherence.html", {"playbook": playbook, "rows": rows})


def register_playbooks() -> None:
    """Exit criteria, the activity plan, the opportunity card and the admin entry (ready())."""
    register_stage_guard(playbooks.exit_criteria_guard)
    events.subscribe("opportunity.stage_changed", playbooks.create_activity_plan)
    register_detail_panel(
        DetailPanel(
            key="pipeline.playbook",
            template="pipeline/playbook_card.html",
            context=_card,
            object_types=frozenset({Opportunity.object_type()}),
            order=20,
        )
    )
    register_nav_item(
        NavItem(
            area="Admin",
            label="Playbooks",
            url_name="pipeline:playbook_list",
            admin_only=True,
            order=60,
        )
    )


urlpatterns = [
    path("admin-area/playbooks/", playbook_list, name="playbook_list"),
    path("admin-area/playbooks/import/", playbook_import, name="playbook_import"),
    path("admin-area/playbooks/<int:pk>/", playbook_edit, name="playbook_edit"),
    path(
        "admin-area/playbooks/<int:pk>/versions/<int:number>/",
        playbook_version_detail,
        name="playbook_version",
    ),
    path(
        "admin-area/playbooks/<int:pk>/versions/<int:number>/export/",
        playbook_export,
        name="playbook_export",
    ),
    path("playbooks/<int:pk>/adherence/", playbook_adherence, name="playbook_adherence"),
    path("opportunities/<int:pk>/checklist/", checklist_toggle, name="opportunity_checklist"),
]
