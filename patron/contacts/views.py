"""Account and contact pages: lists, detail, create/edit forms, bulk actions, CSV export.

Views stay thin: reads through the selectors and FilterSets, writes through the services.
Both objects share one implementation (``RecordPages``) configured by an ``ObjectUI``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import django_filters
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from patron.contacts import selectors, services
from patron.contacts.filters import ACCOUNT_SORTS, CONTACT_SORTS, AccountFilter, ContactFilter
from patron.contacts.forms import AccountForm, BulkEditForm, ContactForm, SavedViewForm
from patron.contacts.models import Account, AccountTeamRole, Contact, TeamAccess
from patron.contacts.rollups import rollup_figures
from patron.core.choices import Action
from patron.core.context_processors import NavItem, register_nav_item
from patron.core.custom_fields import definitions_for
from patron.core.exceptions import (
    PatronError,
    PermissionDenied,
    ValidationFailed,
    VersionConflict,
)
from patron.core.forms import RecordForm
from patron.core.jobs import job_start
from patron.core.models import BusinessRecord, ChangeLogEntry, CustomFieldDefinition, SavedView
from patron.core.saved_views import saved_view_delete, saved_view_save
from patron.core.sharing import share_panel
from patron.core.views import (
    Recyclable,
    apply_custom_filters,
    filterable_custom_fields,
    handles_domain_errors,
    is_htmx,
    keyset_page,
    register_recyclable,
)
from patron.core.visibility import can_access, explain_access, hidden_field_names
from patron.users.models import User

EXPORT_TASK = "contacts.export_csv"
PAGE_SIZES = (25, 50, 100)
BULK_LIMIT = 200
RELATED_LIMIT = 25
CHANGE_LOG_LIMIT = 50
TEAM_CANDIDATE_LIMIT = 500


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    sort: str = ""
    css: str = ""


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
    bulk_account_fields: bool
    record_arg: str
    primary_filters: tuple[str, ...] = ("q",)
    check_duplicates: bool = False

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
        return {page: f"contacts:{self.key}_{page}" for page in pages}

    def url(self, name: str, *args: Any) -> str:
        return reverse(f"contacts:{self.key}_{name}", args=args)


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _require(user: User, ui: ObjectUI, action: str) -> None:
    if not user.access_profile().may(ui.object_type, action):
        verb = {"read": "see", "create": "create", "export": "export"}.get(action, action)
        raise PermissionDenied(f"Your role may not {verb} {ui.label_plural.lower()}.")


def _hidden_fields(user: User, ui: ObjectUI) -> set[str]:
    """Names (``field`` or ``custom.<key>``) this user may not see."""
    return set(hidden_field_names(user, ui.model))


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
    user: User,
    params: QueryDict,
    definitions: list[CustomFieldDefinition],
) -> tuple[django_filters.FilterSet, QuerySet[Any]]:
    """The FilterSet (for its form and errors) and the rows it selects."""
    filterset = ui.filterset(params, queryset=ui.selector(user=user))
    _polish_filter_form(filterset.form)
    rows = apply_custom_filters(filterset.qs, definitions, params)
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


class RecordPages:
    """The pages of one object type; each public method is a view."""

    def __init__(self, ui: ObjectUI) -> None:
        self.ui = ui

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
        sort = params.get("sort", "")
        sort_fields = {name.lstrip("-") for name in ui.sorts.get(sort, ())}
        if sort not in ui.sorts or sort_fields & hidden:
            sort = ui.default_sort
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
            "bulk_form": BulkEditForm(auto_id="bulk_%s"),
            "can_create": user.access_profile().may(ui.object_type, Action.CREATE),
            "can_export": user.access_profile().may(ui.object_type, Action.EXPORT),
            "page_sizes": PAGE_SIZES,
            "size": size,
        }
        if is_htmx(request) and request.headers.get("HX-Target") == "list-results":
            context["oob"] = True
            return render(request, "contacts/partials/list_results.html", context)
        return render(request, f"contacts/{ui.key}_list.html", context)

    def _saved_views(self, user: User) -> QuerySet[SavedView]:
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
        context = {
            "ui": ui,
            "record": record,
            "sections": sections,
            "custom_fields": custom_fields,
            "changes": self._change_log(record, definitions, hidden),
            "reasons": explain_access(user, record, shares=sharing["shares"]),
            **sharing,
            "can_edit": can_access(user, record, Action.UPDATE),
            "can_export": user.access_profile().may(ui.object_type, Action.EXPORT),
            "can_delete": can_access(user, record, Action.DELETE),
        }
        context.update(self._related(user, record, can_edit=bool(context["can_edit"])))
        return render(request, f"contacts/{ui.key}_detail.html", context)

    def _label(self, name: str) -> str:
        model_field = self.ui.model._meta.get_field(name)
        return str(getattr(model_field, "verbose_name", name)).capitalize()

    def _related(self, user: User, record: Any, *, can_edit: bool) -> dict[str, Any]:
        if isinstance(record, Contact):
            return {"account_relations": selectors.contact_relation_list(user=user, contact=record)}
        if not isinstance(record, Account):
            return {}
        contacts = (
            Contact.objects.visible_to(user)
            .filter(account=record)
            .select_related("owner")
            .only(
                "id",
                "first_name",
                "last_name",
                "title",
                "email",
                "phone",
                "owner__full_name",
                "owner__email",
                "owner",
            )
            .order_by("last_name", "first_name", "id")[: RELATED_LIMIT + 1]
        )
        contact_rows = list(contacts)
        hierarchy = selectors.account_hierarchy(user=user, account=record)
        # The hierarchy already knows whether the user may see the parent.
        parent_node = hierarchy.ancestors[-1] if hierarchy.ancestors else None
        parent = record.parent if parent_node is not None and parent_node.visible else None
        return {
            **self._account_team(record, may_edit=can_edit),
            "relations": selectors.account_relation_list(user=user, account=record),
            "related_contacts": contact_rows[:RELATED_LIMIT],
            "more_contacts": len(contact_rows) > RELATED_LIMIT,
            "hierarchy": hierarchy,
            "rollups": rollup_figures(account_id=record.pk, subtree_ids=hierarchy.subtree_ids),
            "parent": parent,
        }

    def _account_team(self, account: Account, *, may_edit: bool) -> dict[str, Any]:
        """The account team card: members, and for editors the users they may add."""
        members = selectors.account_team_list(account=account)
        candidates: list[User] = []
        if may_edit:
            taken = {m.user_id for m in members}
            candidates = [
                u
                for u in User.objects.filter(is_active=True).order_by("full_name", "email")[
                    :TEAM_CANDIDATE_LIMIT
                ]
                if u.pk not in taken
            ]
        return {
            "team_members": members,
            "team_candidates": candidates,
            "team_roles": AccountTeamRole.choices,
            "team_access_levels": TeamAccess.choices,
            "may_edit_team": may_edit,
        }

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
        owners: dict[Any, str] = {u.pk: str(u) for u in User.objects.filter(pk__in=owner_ids)}
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
            return render(request, "contacts/partials/record_form.html", context)
        if not form.is_valid():
            return self._render_form(request, context, status=422)
        values = form.service_values(only_changed=False)
        if ui.check_duplicates and not request.POST.get("confirm_duplicate"):
            duplicates = self._duplicates(user, values)
            if duplicates["visible"] or duplicates["hidden_count"]:
                context["duplicates"] = duplicates
                return self._render_form(request, context, status=200)
        try:
            record = ui.create(user=user, **values)
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

    def _hint_duplicates(self, user: User, form: RecordForm, name: str) -> None:
        """While a new contact is typed, say under its email or phone that it may exist."""
        if not self.ui.check_duplicates or name not in ("email", "phone") or form.errors:
            return
        value = form.cleaned_data.get(name)
        if not value:
            return
        found = self._duplicates(user, {name: value})
        names = [str(contact) for contact in found["visible"]]
        if found["hidden_count"]:
            names.append(f"{found['hidden_count']} contact(s) you cannot see")
        if names:
            # The bound field was built during validation; its help text is what renders.
            form[
                name
            ].help_text = f"Possible duplicate: this {name} already belongs to {', '.join(names)}."

    def _duplicates(self, user: User, values: dict[str, Any]) -> dict[str, Any]:
        matches = selectors.contact_duplicates(
            email=values.get("email") or "", phone=values.get("phone") or ""
        )
        ids = [m.pk for m in matches]
        visible = list(
            Contact.objects.visible_to(user).filter(pk__in=ids).select_related("account")
        )
        return {"visible": visible, "hidden_count": len(ids) - len(visible)}

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
            return render(request, "contacts/partials/record_form.html", context)
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
            return render(request, "contacts/partials/record_form.html", context, status=status)
        return render(request, f"contacts/{self.ui.key}_form.html", context, status=status)

    # ----- delete -----

    def delete(self, request: HttpRequest, pk: int) -> HttpResponse:
        ui, user = self.ui, _user(request)
        record = ui.getter(user=user, pk=pk, action=Action.DELETE)
        if request.method != "POST":
            return render(
                request, "contacts/record_confirm_delete.html", {"ui": ui, "record": record}
            )
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
            form = BulkEditForm(request.POST)
            if not form.is_valid():
                errors = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items())
                messages.error(request, f"Nothing was changed: {errors}")
                return redirect(back)
            changes = form.changes(include_account_fields=ui.bulk_account_fields)
            if not changes:
                messages.warning(request, "Choose a new owner, tier or industry to set.")
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
        query = list_query(QueryDict(request.POST.get("query", "")))
        job = job_start(
            kind=EXPORT_TASK,
            user=user,
            params={"object": ui.key, "query": query},
            task_name=EXPORT_TASK,
        )
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


ACCOUNTS = ObjectUI(
    key="account",
    model=Account,
    label="Account",
    label_plural="Accounts",
    filterset=AccountFilter,
    sorts=ACCOUNT_SORTS,
    default_sort="name",
    selector=selectors.account_list,
    getter=selectors.account_get,
    create=services.account_create,
    update=services.account_update,
    delete=services.account_delete,
    form_class=AccountForm,
    columns=(
        Column("name", "Name", sort="name"),
        Column("industry", "Industry", css="hide-sm"),
        Column("tier", "Tier"),
        Column("billing_country", "Country", css="hide-sm"),
        Column("owner", "Owner", css="hide-sm"),
        Column("annual_revenue", "Annual revenue", sort="revenue", css="num hide-sm"),
        Column("created_at", "Created", sort="created", css="hide-sm"),
    ),
    list_fields=(
        "id",
        "name",
        "kind",
        "industry",
        "tier",
        "billing_country",
        "annual_revenue",
        "revenue_currency",
        "created_at",
        "owner",
        "owner__full_name",
        "owner__email",
        "parent",
        "parent__name",
    ),
    detail_sections=(
        (
            "Overview",
            (
                "kind",
                "industry",
                "tier",
                "owner",
                "team",
                "employee_count",
                "annual_revenue",
                "year_established",
            ),
        ),
        ("Contact details", ("email", "phone", "website", "domain")),
        (
            "Billing address",
            (
                "billing_street",
                "billing_city",
                "billing_region",
                "billing_postal_code",
                "billing_country",
            ),
        ),
    ),
    bulk_account_fields=True,
    record_arg="account",
    primary_filters=("q", "tier", "owner"),
)

CONTACTS = ObjectUI(
    key="contact",
    model=Contact,
    label="Contact",
    label_plural="Contacts",
    filterset=ContactFilter,
    sorts=CONTACT_SORTS,
    default_sort="name",
    selector=selectors.contact_list,
    getter=selectors.contact_get,
    create=services.contact_create,
    update=services.contact_update,
    delete=services.contact_delete,
    form_class=ContactForm,
    columns=(
        Column("name", "Name", sort="name"),
        Column("account", "Account", css="hide-sm"),
        Column("title", "Title", css="hide-sm"),
        Column("email", "Email"),
        Column("phone", "Phone", css="hide-sm"),
        Column("owner", "Owner", css="hide-sm"),
        Column("created_at", "Created", sort="created", css="hide-sm"),
    ),
    list_fields=(
        "id",
        "first_name",
        "last_name",
        "title",
        "email",
        "phone",
        "created_at",
        "owner",
        "owner__full_name",
        "owner__email",
        "account",
        "account__name",
    ),
    detail_sections=(
        (
            "Overview",
            (
                "salutation",
                "title",
                "department",
                "owner",
                "team",
                "language",
                "time_zone",
                "birthdate",
            ),
        ),
        ("Reach", ("email", "phone", "do_not_call", "email_opt_out")),
    ),
    bulk_account_fields=False,
    record_arg="contact",
    primary_filters=("q", "owner"),
    check_duplicates=True,
)

account_pages = RecordPages(ACCOUNTS)
contact_pages = RecordPages(CONTACTS)


def register_ui() -> None:
    """Put accounts and contacts in the navigation and the recycle bin (from AppConfig.ready)."""
    register_nav_item(
        NavItem(
            area="Sales",
            label="Accounts",
            url_name="contacts:account_list",
            object_type=Account.object_type(),
            create_url_name="contacts:account_create",
            order=10,
        )
    )
    register_nav_item(
        NavItem(
            area="Sales",
            label="Contacts",
            url_name="contacts:contact_list",
            object_type=Contact.object_type(),
            create_url_name="contacts:contact_create",
            order=20,
        )
    )
    register_recyclable(
        Recyclable(
            model=Account,
            label="Account",
            detail_url_name="contacts:account_detail",
            restore=lambda user, record: services.account_restore(user=user, account=record),
        )
    )
    register_recyclable(
        Recyclable(
            model=Contact,
            label="Contact",
            detail_url_name="contacts:contact_detail",
            restore=lambda user, record: services.contact_restore(user=user, contact=record),
        )
    )


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
