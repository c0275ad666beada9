"""The standard pages of a business record type: list, detail, create/edit, bulk, export.

An app describes one object type with an ``ObjectUI`` and gets its views from
``RecordPages``; ``record_urlpatterns`` names them ``<namespace>:<key>_<page>``. Views stay
thin: reads through the app's selector and FilterSet, writes through its services. Templates
default to ``core/records/*.html``; an app overrides one by providing
``<template_dir>/<key>_<page>.html`` (the detail page always comes from the app).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import django_filters
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from patron.core.choices import Action
from patron.core.custom_fields import definitions_for
from patron.core.exceptions import (
    DuplicateFound,
    PatronError,
    PermissionDenied,
    ValidationFailed,
    VersionConflict,
)
from patron.core.exports import EXPORT_FORMATS, chosen_sort
from patron.core.filters import FilterContext, refuse_huge_numbers
from patron.core.forms import RecordForm
from patron.core.jobs import job_start
from patron.core.models import BusinessRecord, ChangeLogEntry, CustomFieldDefinition, SavedView
from patron.core.quality import QUALITY_PARAM, apply_quality_filter, quality_check
from patron.core.records import create_warnings_confirmed
from patron.core.saved_views import saved_view_delete, saved_view_save
from patron.core.sharing import share_panel
from patron.core.views import (
    apply_custom_filters,
    filterable_custom_fields,
    handles_domain_errors,
    is_htmx,
    keyset_page,
)
from patron.core.visibility import access_answers, explain_access, hidden_field_names

EXPORT_TASK = "core.export_csv"
PAGE_SIZES = (25, 50, 100)
BULK_LIMIT = 200
CHANGE_LOG_LIMIT = 50


class BulkEditForm(forms.Form):
    """Values to set on every selected row; a blank field leaves rows unchanged.

    Subclasses add fields; every field is rendered in the bulk bar and each non-blank
    cleaned value is passed to the object's update service.
    """

    owner: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label="Set owner",
        empty_label="Keep owner",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = cast("forms.ModelChoiceField[Any]", self.fields["owner"])
        owner.queryset = get_user_model().objects.filter(is_active=True)

    def changes(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if isinstance(value, str):
                value = value.strip()
            if value not in (None, ""):
                values[name] = value
        return values


class SavedViewForm(forms.Form):
    name = forms.CharField(max_length=100, label="View name")


@dataclass(frozen=True)
class ToolbarLink:
    """An extra button on a list (``url_name`` takes no argument; the list state is
    appended when ``with_query``) or a detail page (``url_name`` takes the record's pk)."""

    id: str
    label: str
    url_name: str
    # The object permission the user needs to see the link.
    needs: str = Action.READ
    with_query: bool = False


@dataclass(frozen=True)
class DetailPanel:
    """A card that an app adds to other apps' detail pages (timeline, quick-add, purchase
    history...), so no app imports another to show its data there.

    ``context(request, record)`` returns the template's context, or None to leave the card
    out for this record; ``object_types`` limits the card to some types (None: every type).
    """

    key: str
    template: str
    context: Callable[[HttpRequest, Any], dict[str, Any] | None]
    object_types: frozenset[str] | None = None
    order: int = 100
    # "main" (the wide column, after the record's own cards) or "side".
    column: str = "main"


_detail_panels: dict[str, DetailPanel] = {}


def register_detail_panel(panel: DetailPanel) -> None:
    """Show ``panel`` on the detail pages it applies to (call from ``AppConfig.ready``)."""
    _detail_panels[panel.key] = panel


def detail_panels(request: HttpRequest, record: Any) -> dict[str, list[dict[str, Any]]]:
    """The registered cards for ``record``'s page, in order, by column."""
    object_type = record.object_type()
    columns: dict[str, list[dict[str, Any]]] = {"main": [], "side": []}
    for panel in sorted(_detail_panels.values(), key=lambda p: (p.order, p.key)):
        if panel.object_types is not None and object_type not in panel.object_types:
            continue
        context = panel.context(request, record)
        if context is not None:
            columns[panel.column].append({"template": panel.template, "context": context})
    return columns


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    sort: str = ""
    css: str = ""
    # A template that renders the whole cell (``<td>`` or ``<th>``) from ``record``.
    cell: str = ""


@dataclass(frozen=True)
class ObjectUI:
    """Everything the shared pages need to know about one object type."""

    key: str
    model: type[BusinessRecord]
    label: str
    label_plural: str
    filterset: type[django_filters.FilterSet]
    sorts: dict[str, tuple[str, ...]]
    default_sort: str
    selector: Callable[..., QuerySet[Any]]
    getter: Callable[..., Any]
    create: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., Any]
    form_class: type[RecordForm]
    columns: tuple[Column, ...]
    list_fields: tuple[str, ...]
    detail_sections: tuple[tuple[str, tuple[str, ...]], ...]
    record_arg: str
    namespace: str
    primary_filters: tuple[str, ...] = ("q",)
    bulk_form_class: type[BulkEditForm] = BulkEditForm
    # Extra detail-page context: ``related(user, record, can_edit=...)``.
    related: Callable[..., dict[str, Any]] | None = None
    # ``find_duplicates(user, values)`` -> {"visible": [...], "hidden_count": n}; when set,
    # creating warns about these matches before saving and while ``duplicate_fields`` are typed.
    find_duplicates: Callable[[Any, dict[str, Any]], dict[str, Any]] | None = None
    duplicate_fields: tuple[str, ...] = ()
    list_links: tuple[ToolbarLink, ...] = ()
    detail_links: tuple[ToolbarLink, ...] = ()
    template_dir: str = ""
    nav_area: str = field(default="Sales")

    @property
    def object_type(self) -> str:
        return self.model.object_type()

    @property
    def names(self) -> dict[str, str]:
        """URL names of this object's pages, for ``{% url ui.names.detail pk %}``."""
        pages = (
            "list",
            "detail",
            "create",
            "edit",
            "delete",
            "bulk",
            "export",
            "save_view",
            "delete_view",
        )
        return {page: f"{self.namespace}:{self.key}_{page}" for page in pages}

    def url(self, name: str, *args: Any) -> str:
        return reverse(f"{self.namespace}:{self.key}_{name}", args=args)

    def templates(self, page: str) -> list[str]:
        """The app's own template for ``page`` if it has one, else the shared one."""
        return [
            f"{self.template_dir or self.namespace}/{self.key}_{page}.html",
            f"core/records/{page}.html",
        ]


def _user(request: HttpRequest) -> Any:
    """The signed-in user (``users.User``; core cannot import it)."""
    return request.user


def _require(user: Any, ui: ObjectUI, action: str) -> None:
    if not user.access_profile().may(ui.object_type, action):
        verb = {"read": "see", "create": "create", "export": "export"}.get(action, action)
        raise PermissionDenied(f"Your role may not {verb} {ui.label_plural.lower()}.")


def _hidden_fields(user: Any, ui: ObjectUI) -> set[str]:
    """Names (``field`` or ``custom.<key>``) this user may not see."""
    return set(hidden_field_names(user, ui.model))


def _links(user: Any, ui: ObjectUI, links: tuple[ToolbarLink, ...]) -> list[ToolbarLink]:
    profile = user.access_profile()
    return [link for link in links if profile.may(ui.object_type, link.needs)]


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


# ---------- list ----------


def list_query(params: QueryDict) -> str:
    """The list's state (filters, sort, columns) without paging, for views and exports."""
    state = QueryDict(mutable=True)
    for key, values in params.lists():
        if key in ("cursor", "view", "_validate", "csrfmiddlewaretoken"):
            continue
        kept = [value for value in values if value != ""]
        if kept:
            state.setlist(key, kept)
    return state.urlencode()


def filtered_queryset(
    ui: ObjectUI,
    user: Any,
    params: QueryDict,
    definitions: list[CustomFieldDefinition],
) -> tuple[django_filters.FilterSet, QuerySet[Any]]:
    """The FilterSet (for its form and errors) and the rows it selects."""
    filterset = ui.filterset(
        params, queryset=ui.selector(user=user), request=FilterContext(user=user)
    )
    _polish_filter_form(filterset.form)
    refuse_huge_numbers(filterset)
    rows = apply_custom_filters(filterset.qs, definitions, params)
    rows, _check = apply_quality_filter(rows, ui.object_type, params)
    return filterset, rows


def _polish_filter_form(form: forms.Form) -> None:
    """Friendlier controls for the shared FilterSet's form: "Any" choices, date pickers."""
    for name, form_field in form.fields.items():
        if hasattr(form_field, "empty_label"):
            form_field.empty_label = "Any"
        if isinstance(form_field, forms.ChoiceField) and not hasattr(form_field, "empty_label"):
            choices = cast(list[tuple[Any, Any]], list(cast(Any, form_field.choices)))
            form_field.choices = [("", "Any"), *[c for c in choices if c[0] != ""]]
        elif isinstance(form_field, forms.DateField):
            form_field.widget.input_type = "date"
        # Choices refresh the list at once, typed text after a pause (record_list.html).
        kind = "filter-choice" if isinstance(form_field.widget, forms.Select) else "filter-text"
        form_field.widget.attrs["class"] = kind
        if name == "q":
            form_field.label = "Search"
            form_field.widget.input_type = "search"


_object_uis: dict[str, ObjectUI] = {}


def record_detail_url(object_type: str, pk: Any) -> str | None:
    """The detail page of record ``pk`` of ``object_type``, if that type has pages."""
    ui = _object_uis.get(object_type)
    return ui.url("detail", pk) if ui is not None else None


def object_ui(object_type: str) -> ObjectUI | None:
    return _object_uis.get(object_type)


def _duplicate_matches(ui: ObjectUI, user: Any, exc: DuplicateFound) -> dict[str, Any]:
    """The records a duplicate rule matched, for the form's "possible duplicate" box."""
    ids = [m["id"] for m in exc.matches if m.get("visible")]
    reasons = {m["id"]: m.get("match_key", "") for m in exc.matches}
    visible = list(ui.model.objects.visible_to(user).filter(pk__in=ids))
    for record in visible:
        record.duplicate_reason = reasons.get(record.pk, "")  # type: ignore[attr-defined]
    return {
        "visible": visible,
        "hidden_count": len(exc.matches) - len(visible),
        "blocked": not exc.can_confirm,
        "detail": exc.detail,
    }


class RecordPages:
    """The pages of one object type; each public method is a view."""

    def __init__(self, ui: ObjectUI) -> None:
        self.ui = ui
        _object_uis[ui.object_type] = ui

    # ----- list -----

    def listing(self, request: HttpRequest) -> HttpResponse:
        ui, user = self.ui, _user(request)
        _require(user, ui, Action.READ)
        view_id = request.GET.get("view", "")
        if view_id.isdigit() and set(request.GET) == {"view"}:
            saved = self._saved_views(user).filter(pk=view_id).first()
            if saved is not None:
                query = saved.query + "".join(f"&col={c}" for c in saved.columns)
                return redirect(f"{request.path}?{query.lstrip('&')}&view={saved.pk}")
        definitions = definitions_for(ui.object_type)
        hidden = _hidden_fields(user, ui)
        visible_custom = [d for d in definitions if f"custom.{d.key}" not in hidden]
        params = request.GET
        # Filtering or sorting by a field hidden from the user would reveal its values.
        filterset, rows = filtered_queryset(ui, user, params, visible_custom)
        sort = chosen_sort(ui.sorts, params.get("sort", ""), ui.default_sort, hidden)
        chosen = set(params.getlist("col"))
        custom_columns = [
            Column(f"custom.{d.key}", d.label) for d in visible_custom if d.key in chosen
        ]
        columns = [c for c in ui.columns if c.name not in hidden] + custom_columns
        only = list(ui.list_fields) + (["custom"] if custom_columns else [])
        size = int(params["size"]) if params.get("size", "").isdigit() else PAGE_SIZES[0]
        size = size if size in PAGE_SIZES else PAGE_SIZES[0]
        page = keyset_page(rows.only(*only), ui.sorts[sort], params.get("cursor", ""), size)
        context = {
            "ui": ui,
            "filterset": filterset,
            "filter_form": filterset.form,
            "primary_filters": [filterset.form[n] for n in ui.primary_filters],
            "more_filters": [
                filterset.form[n] for n in filterset.form.fields if n not in ui.primary_filters
            ],
            "custom_filters": [
                {"name": f"cf_{d.key}", "label": d.label, "value": params.get(f"cf_{d.key}", "")}
                for d in filterable_custom_fields(visible_custom)
            ],
            "custom_column_choices": [(d.key, d.label, d.key in chosen) for d in visible_custom],
            "page": page,
            "columns": columns,
            "sort": sort,
            "query": list_query(params),
            "saved_views": list(self._saved_views(user)),
            "active_view": view_id,
            "bulk_form": ui.bulk_form_class(auto_id="bulk_%s"),
            "can_create": user.access_profile().may(ui.object_type, Action.CREATE),
            "can_export": user.access_profile().may(ui.object_type, Action.EXPORT),
            "page_sizes": PAGE_SIZES,
            "size": size,
            "list_links": _links(user, ui, ui.list_links),
        }
        check = quality_check(params.get(QUALITY_PARAM, ""))
        if check is not None and check.object_type == ui.object_type:
            context["quality_check"] = check
        if is_htmx(request) and request.headers.get("HX-Target") == "list-results":
            context["oob"] = True
            return render(request, "core/records/list_results.html", context)
        return render(request, ui.templates("list"), context)

    def _saved_views(self, user: Any) -> QuerySet[SavedView]:
        return SavedView.objects.filter(
            Q(user=user) | Q(shared=True), object_type=self.ui.object_type
        ).order_by("name", "id")

    # ----- detail -----

    def detail(self, request: HttpRequest, pk: int) -> HttpResponse:
        ui, user = self.ui, _user(request)
        record = ui.getter(user=user, pk=pk)
        definitions = definitions_for(ui.object_type)
        hidden = _hidden_fields(user, ui)
        sections = [
            (title, [(self._label(name), name) for name in names if name not in hidden])
            for title, names in ui.detail_sections
        ]
        custom_fields = [
            (d.label, f"custom.{d.key}") for d in definitions if f"custom.{d.key}" not in hidden
        ]
        sharing = share_panel(user=user, record=record)
        may = access_answers(user, record, (Action.UPDATE, Action.DELETE))
        context = {
            "ui": ui,
            "record": record,
            "sections": sections,
            "custom_fields": custom_fields,
            "changes": self._change_log(record, definitions, hidden),
            "reasons": explain_access(user, record, shares=sharing["shares"]),
            **sharing,
            "can_edit": may[Action.UPDATE],
            "can_export": user.access_profile().may(ui.object_type, Action.EXPORT),
            "can_delete": may[Action.DELETE],
            "detail_links": _links(user, ui, ui.detail_links),
        }
        if ui.related is not None:
            context.update(ui.related(user, record, can_edit=bool(context["can_edit"])))
        context["panels"] = detail_panels(request, record)
        return render(request, f"{ui.template_dir or ui.namespace}/{ui.key}_detail.html", context)

    def _label(self, name: str) -> str:
        model_field = self.ui.model._meta.get_field(name)
        return str(getattr(model_field, "verbose_name", name)).capitalize()

    def _change_log(
        self, record: Any, definitions: list[CustomFieldDefinition], hidden: set[str]
    ) -> list[dict[str, Any]]:
        entries = list(
            ChangeLogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(self.ui.model), object_id=record.pk
            ).select_related("actor")[:CHANGE_LOG_LIMIT]
        )
        custom_labels = {f"custom.{d.key}": d.label for d in definitions}
        owner_ids = {
            value
            for entry in entries
            for name, pair in entry.changes.items()
            if name == "owner"
            for value in pair
            if value
        }
        people = get_user_model().objects.filter(pk__in=owner_ids)
        owners: dict[Any, str] = {u.pk: str(u) for u in people}
        rows = []
        for entry in entries:
            changes = []
            for name, pair in entry.changes.items():
                old, new = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
                if name in hidden:
                    old = new = "(hidden)"
                elif name == "owner":
                    old, new = owners.get(old, old), owners.get(new, new)
                if name in custom_labels:
                    label = custom_labels[name]
                else:
                    try:
                        label = self._label(name)
                    except FieldDoesNotExist:
                        label = name
                changes.append({"label": label, "old": old, "new": new})
            rows.append({"entry": entry, "changes": changes})
        return rows

    # ----- create / edit -----

    def create(self, request: HttpRequest) -> HttpResponse:
        ui, user = self.ui, _user(request)
        _require(user, ui, Action.CREATE)
        definitions = definitions_for(ui.object_type)
        initial = {k: v for k, v in request.GET.items() if k in ui.form_class.model_fields}
        form = ui.form_class(
            request.POST if request.method == "POST" else None,
            user=user,
            definitions=definitions,
            initial=initial,
        )
        context: dict[str, Any] = {
            "ui": ui,
            "form": form,
            "record": None,
            "validate_url": request.path,
        }
        if request.method != "POST":
            return self._render_form(request, context)
        validating = request.POST.get("_validate", "")
        if validating:
            form.is_valid()
            form.keep_errors_for(validating)
            self._hint_duplicates(user, form, validating)
            return render(request, "core/records/form_body.html", context)
        if not form.is_valid():
            return self._render_form(request, context, status=422)
        values = form.service_values(only_changed=False)
        if ui.find_duplicates is not None and not request.POST.get("confirm_duplicate"):
            duplicates = ui.find_duplicates(user, values)
            if duplicates["visible"] or duplicates["hidden_count"]:
                context["duplicates"] = duplicates
                return self._render_form(request, context, status=200)
        try:
            with create_warnings_confirmed(bool(request.POST.get("confirm_duplicate"))):
                record = ui.create(user=user, **values)
        except DuplicateFound as exc:
            context["duplicates"] = _duplicate_matches(ui, user, exc)
            return self._render_form(request, context, status=200 if exc.can_confirm else 422)
        except ValidationFailed as exc:
            form.add_service_errors(exc.errors)
            return self._render_form(request, context, status=422)
        except PermissionDenied as exc:
            if not exc.errors:
                raise
            form.add_service_errors(exc.errors)
            return self._render_form(request, context, status=403)
        messages.success(request, f"{ui.label} “{record}” was created.")
        return redirect(ui.url("detail", record.pk))

    def _hint_duplicates(self, user: Any, form: RecordForm, name: str) -> None:
        """While a new record is typed, say under a matching field that it may exist."""
        find = self.ui.find_duplicates
        if find is None or name not in self.ui.duplicate_fields or form.errors:
            return
        value = form.cleaned_data.get(name)
        if not value:
            return
        found = find(user, {name: value})
        names = [str(contact) for contact in found["visible"]]
        if found["hidden_count"]:
            count = found["hidden_count"]
            noun = self.ui.label if count == 1 else self.ui.label_plural
            names.append(f"{count} {noun.lower()} you cannot see")
        if names:
            # The bound field was built during validation; its help text is what renders.
            form[
                name
            ].help_text = f"Possible duplicate: this {name} already belongs to {', '.join(names)}."

    def edit(self, request: HttpRequest, pk: int) -> HttpResponse:
        ui, user = self.ui, _user(request)
        record = ui.getter(user=user, pk=pk, action=Action.UPDATE)
        definitions = definitions_for(ui.object_type)
        form = ui.form_class(
            request.POST if request.method == "POST" else None,
            user=user,
            definitions=definitions,
            instance=record,
        )
        context: dict[str, Any] = {
            "ui": ui,
            "form": form,
            "record": record,
            "validate_url": request.path,
        }
        if request.method != "POST":
            return self._render_form(request, context)
        validating = request.POST.get("_validate", "")
        if validating:
            form.is_valid()
            form.keep_errors_for(validating)
            return render(request, "core/records/form_body.html", context)
        if not form.is_valid():
            return self._render_form(request, context, status=422)
        overwrite = request.POST.get("overwrite_version", "")
        expected = int(overwrite) if overwrite.isdigit() else form.cleaned_data.get("version")
        values = form.service_values(only_changed=True)
        try:
            record = ui.update(
                user=user,
                expected_version=expected or record.version,
                **{ui.record_arg: record},
                **values,
            )
        except VersionConflict as exc:
            context["conflict"] = {
                "detail": exc.detail,
                "current_version": exc.current_version,
                "fields": [form[name].label for name in form.changed_data if name != "version"],
            }
            return self._render_form(request, context, status=409)
        except ValidationFailed as exc:
            form.add_service_errors(exc.errors)
            return self._render_form(request, context, status=422)
        except PermissionDenied as exc:
            if not exc.errors:
                raise
            form.add_service_errors(exc.errors)
            return self._render_form(request, context, status=403)
        messages.success(request, f"Saved your changes to “{record}”.")
        return redirect(ui.url("detail", record.pk))

    def _render_form(
        self, request: HttpRequest, context: dict[str, Any], status: int = 200
    ) -> HttpResponse:
        if is_htmx(request) and request.headers.get("HX-Target") == "record-form":
            return render(request, "core/records/form_body.html", context, status=status)
        return render(request, self.ui.templates("form"), context, status=status)

    # ----- delete -----

    def delete(self, request: HttpRequest, pk: int) -> HttpResponse:
        ui, user = self.ui, _user(request)
        record = ui.getter(user=user, pk=pk, action=Action.DELETE)
        if request.method != "POST":
            return render(request, ui.templates("confirm_delete"), {"ui": ui, "record": record})
        ui.delete(user=user, **{ui.record_arg: record})
        messages.success(
            request,
            f"{ui.label} “{record}” was moved to the recycle bin; you can restore it from there.",
        )
        return redirect(ui.url("list"))

    # ----- bulk actions -----

    def bulk(self, request: HttpRequest) -> HttpResponse:
        ui, user = self.ui, _user(request)
        back = _safe_next(request, ui.url("list"))
        ids = [i for i in request.POST.getlist("ids") if i.isdigit()][:BULK_LIMIT]
        action = request.POST.get("action", "")
        if not ids:
            messages.warning(request, f"Select at least one {ui.label.lower()} first.")
            return redirect(back)
        changes: dict[str, Any] = {}
        if action == "edit":
            form = ui.bulk_form_class(request.POST)
            if not form.is_valid():
                errors = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items())
                messages.error(request, f"Nothing was changed: {errors}")
                return redirect(back)
            changes = form.changes()
            if not changes:
                choices = ", ".join(str(f.label).removeprefix("Set ").lower() for f in form)
                messages.warning(request, f"Choose a new value to set: {choices}.")
                return redirect(back)
        elif action != "delete":
            messages.error(request, "Unknown bulk action.")
            return redirect(back)
        done, refused = 0, []
        needed = Action.DELETE if action == "delete" else Action.UPDATE
        for pk in ids:
            record = None
            try:
                record = ui.getter(user=user, pk=pk, action=needed)
                if action == "delete":
                    ui.delete(user=user, **{ui.record_arg: record})
                else:
                    ui.update(user=user, **{ui.record_arg: record}, **changes)
            except PatronError as exc:
                if record is None and isinstance(exc, PermissionDenied):
                    # Readable but not writable: name the row so the user knows which.
                    record = ui.getter(user=user, pk=pk)
                refused.append(f"{record or '#' + pk}: {exc.detail}")
                continue
            done += 1
        verb = "moved to the recycle bin" if action == "delete" else "updated"
        noun = ui.label.lower() if done == 1 else ui.label_plural.lower()
        if done:
            messages.success(request, f"{done} {noun} {verb}.")
        if refused:
            messages.warning(request, f"{len(refused)} not {verb}: " + " · ".join(refused[:20]))
        return redirect(back)

    # ----- export -----

    def export(self, request: HttpRequest) -> HttpResponse:
        ui, user = self.ui, _user(request)
        _require(user, ui, Action.EXPORT)
        state = QueryDict(request.POST.get("query", ""), mutable=True)
        if not state.get("sort"):
            # The file is in the order the list showed, which without a sort is the list's own.
            state["sort"] = ui.default_sort
        query = list_query(state)
        params = {"object": ui.object_type, "query": query}
        file_format = request.POST.get("format", "csv")
        if file_format not in EXPORT_FORMATS:
            messages.error(request, "Nothing was exported: choose CSV or XLSX as the format.")
            return redirect(f"{ui.url('list')}?{query}")
        if file_format != "csv":
            params["format"] = file_format
        job = job_start(kind=EXPORT_TASK, user=user, params=params, task_name=EXPORT_TASK)
        messages.info(request, f"Your export of {ui.label_plural.lower()} has started.")
        return redirect("ui:job_detail", pk=job.pk)

    # ----- saved views -----

    def save_view(self, request: HttpRequest) -> HttpResponse:
        ui, user = self.ui, _user(request)
        query = QueryDict(request.POST.get("query", ""), mutable=True)
        back = f"{ui.url('list')}?{list_query(query)}"
        form = SavedViewForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Give the view a name (at most 100 characters).")
            return redirect(back)
        columns = [c for c in query.getlist("col") if c]
        query.pop("col", None)
        try:
            saved = saved_view_save(
                user=user,
                object_type=ui.object_type,
                name=form.cleaned_data["name"],
                query=list_query(query),
                columns=columns,
                shared=request.POST.get("shared") == "on",
            )
        except ValidationFailed as error:
            messages.error(request, " ".join(m for ms in error.errors.values() for m in ms))
            return redirect(back)
        messages.success(request, f"Saved the view “{saved.name}”.")
        return redirect(f"{ui.url('list')}?view={saved.pk}")

    def delete_view(self, request: HttpRequest, view_pk: int) -> HttpResponse:
        ui, user = self.ui, _user(request)
        if saved_view_delete(user=user, object_type=ui.object_type, pk=view_pk):
            messages.success(request, "The saved view was deleted.")
        else:
            messages.error(request, "You can only delete your own saved views.")
        return redirect(ui.url("list"))


def page_views(pages: RecordPages) -> dict[str, Callable[..., HttpResponse]]:
    """The view callables of one object type, with sign-in, method and error handling."""

    def wrap(
        view: Callable[..., HttpResponse], *, post: bool = False
    ) -> Callable[..., HttpResponse]:
        wrapped = handles_domain_errors(view)
        if post:
            wrapped = require_POST(wrapped)
        return login_required(wrapped)

    return {
        "list": wrap(pages.listing),
        "detail": wrap(pages.detail),
        "create": wrap(pages.create),
        "edit": wrap(pages.edit),
        "delete": wrap(pages.delete),
        "bulk": wrap(pages.bulk, post=True),
        "export": wrap(pages.export, post=True),
        "save_view": wrap(pages.save_view, post=True),
        "delete_view": wrap(pages.delete_view, post=True),
    }


def record_urlpatterns(prefix: str, pages: RecordPages) -> list[URLPattern]:
    """The URL patterns of one object type's pages, under ``<prefix>/``."""
    views = page_views(pages)
    key = pages.ui.key
    return [
        path(f"{prefix}/", views["list"], name=f"{key}_list"),
        path(f"{prefix}/new/", views["create"], name=f"{key}_create"),
        path(f"{prefix}/bulk/", views["bulk"], name=f"{key}_bulk"),
        path(f"{prefix}/export/", views["export"], name=f"{key}_export"),
        path(f"{prefix}/views/", views["save_view"], name=f"{key}_save_view"),
        path(
            f"{prefix}/views/<int:view_pk>/delete/",
            views["delete_view"],
            name=f"{key}_delete_view",
        ),
        path(f"{prefix}/<int:pk>/", views["detail"], name=f"{key}_detail"),
        path(f"{prefix}/<int:pk>/edit/", views["edit"], name=f"{key}_edit"),
        path(f"{prefix}/<int:pk>/delete/", views["delete"], name=f"{key}_delete"),
    ]
