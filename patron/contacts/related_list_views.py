"""Pages of the contact related lists: a card per list on the contact page, the add/edit form,
remove, a page per list across all visible contacts, and its CSV download.

Cards are detail panels (core.record_pages.register_detail_panel), so contacts/views.py is
untouched. Forms are plain POSTs: a valid one returns to the contact page, an invalid one
shows the form again (422) with the input kept and the errors on their fields. The list
pages have the record lists' saved views (core.saved_views, object type = the row model's
label) and bulk actions (remove, and set status where a list has one).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from typing import Any, cast
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from patron.contacts.forms import SOCIAL_NETWORKS
from patron.contacts.models import Contact
from patron.contacts.related_list_selectors import (
    contact_rows,
    related_contact_get,
    related_list,
    related_row_get,
)
from patron.contacts.related_list_services import (
    consent_record,
    related_row_create,
    related_row_delete,
    related_row_update,
)
from patron.contacts.related_lists import (
    CONSENTS,
    LARGEST_ID,
    RELATED_LISTS,
    SPECS_BY_SLUG,
    SUBSCRIPTIONS,
    RelatedListSpec,
)
from patron.core.choices import Action
from patron.core.exceptions import PatronError, PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.exports import record_export, safe_cell
from patron.core.filters import FilterContext
from patron.core.forms import add_service_errors
from patron.core.models import SavedView
from patron.core.record_pages import (
    BULK_LIMIT,
    DetailPanel,
    SavedViewForm,
    list_query,
    register_detail_panel,
)
from patron.core.saved_views import saved_view_delete, saved_view_save
from patron.core.views import handles_domain_errors, keyset_page
from patron.core.visibility import can_access
from patron.users.models import User

# A card shows this many rows; "See all" opens the list page filtered to the contact.
CARD_ROWS = 10
PAGE_SIZE = 50
CSV_CHUNK = 1000
_CAN_EDIT_ATTR = "_patron_contact_can_edit"
# Lists whose rows can be given a new status in bulk. Not consent: each answer needs its own
# source and time to be proof, so it is recorded one by one.
BULK_STATUS_LISTS = frozenset({SUBSCRIPTIONS.key})


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _spec(slug: str) -> RelatedListSpec:
    spec = SPECS_BY_SLUG.get(slug)
    if spec is None:
        raise RecordNotFound(f"Contacts have no list called {slug!r}.")
    return spec


def _contact_url(contact: Contact, spec: RelatedListSpec) -> str:
    return reverse("contacts:contact_detail", args=[contact.pk]) + f"#{spec.anchor}"


def _require_contacts(user: User, action: str) -> None:
    if not user.access_profile().may(Contact.object_type(), action):
        verb = "export" if action == Action.EXPORT else "see"
        raise PermissionDenied(f"Your role may not {verb} contacts, nor the lists on them.")


# ---------- cards on the contact page ----------


def _can_edit(request: HttpRequest, contact: Contact) -> bool:
    """Whether the user may edit the contact; asked once per page for all its cards."""
    cache: dict[int, bool] = request.__dict__.setdefault(_CAN_EDIT_ATTR, {})
    if contact.pk not in cache:
        cache[contact.pk] = can_access(_user(request), contact, Action.UPDATE)
    return cache[contact.pk]


def _card(spec: RelatedListSpec) -> Callable[[HttpRequest, Any], dict[str, Any] | None]:
    def context(request: HttpRequest, contact: Any) -> dict[str, Any]:
        rows = list(contact_rows(spec=spec, contact=contact)[: CARD_ROWS + 1])
        return {
            "spec": spec,
            "contact": contact,
            "rows": rows[:CARD_ROWS],
            "more": len(rows) > CARD_ROWS,
            "columns": spec.column_labels(),
            "can_edit": _can_edit(request, contact),
            "list_url": reverse("contacts:related_list", kwargs={"slug": spec.slug})
            + f"?contact={contact.pk}",
        }

    return context


def social_links(social: dict[str, Any]) -> list[dict[str, str]]:
    """The contact's social handles as links (known networks first, in their order).

    A handle becomes the network's profile URL; a full http(s) URL is used as it is;
    anything else is shown as text, so a stored value can never become a script link.
    """
    known = {key: (label, template) for key, label, template in SOCIAL_NETWORKS}
    order = [key for key, _label, _template in SOCIAL_NETWORKS]
    keys = sorted(social, key=lambda k: (order.index(k) if k in order else len(order), k))
    links = []
    for key in keys:
        value = str(social.get(key) or "").strip()
        if not value:
            continue
        label, template = known.get(key, (key.replace("_", " ").capitalize(), ""))
        if value.lower().startswith(("https://", "http://")):
            url = value
        elif template:
            url = template.format(quote(value.lstrip("@"), safe=""))
        else:
            url = ""
        links.append({"key": key, "label": label, "value": value, "url": url})
    return links


def _social_card(request: HttpRequest, contact: Any) -> dict[str, Any] | None:
    links = social_links(contact.social or {})
    if not links:
        return None
    return {"contact": contact, "links": links}


def register_related_lists() -> None:
    """Put a card per related list, and the social profiles, on the contact page."""
    contact_type = frozenset({Contact.object_type()})
    for spec in RELATED_LISTS:
        if spec is CONSENTS:
            # The consent card (contacts.consent_views) shows every purpose, its history and
            # the form to record an answer; a second table of the same rows would confuse.
            continue
        register_detail_panel(
            DetailPanel(
                key=f"contacts.{spec.key}",
                template="contacts/partials/related_card.html",
                context=_card(spec),
                object_types=contact_type,
                order=spec.order,
                column=spec.column,
            )
        )
    register_detail_panel(
        DetailPanel(
            key="contacts.social",
            template="contacts/partials/related_social.html",
            context=_social_card,
            object_types=contact_type,
            order=20,
            column="side",
        )
    )


# ---------- add, edit, remove ----------


def _form_page(request: HttpRequest, pk: int, slug: str, row_pk: int | None) -> HttpResponse:
    spec, user = _spec(slug), _user(request)
    contact = related_contact_get(user=user, pk=pk, action=Action.UPDATE)
    row = related_row_get(spec=spec, contact=contact, pk=row_pk) if row_pk else None
    form = spec.form_class(
        request.POST if request.method == "POST" else None, spec=spec, user=user, row=row
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            values = form.service_values()
            try:
                if row is not None:
                    related_row_update(user=user, spec=spec, contact=contact, row=row, **values)
                elif spec is CONSENTS:
                    consent_record(user=user, contact=contact, **values)
                else:
                    related_row_create(user=user, spec=spec, contact=contact, **values)
            except ValidationFailed as error:
                add_service_errors(form, error)
            else:
                verb = "saved" if row is not None else "added"
                messages.success(request, f"{spec.label} {verb} on {contact}.")
                return redirect(_contact_url(contact, spec))
        status = 422
    context = {
        "spec": spec,
        "contact": contact,
        "row": row,
        "form": form,
        "back_url": _contact_url(contact, spec),
    }
    return render(request, "contacts/related_form.html", context, status=status)


def related_row_add(request: HttpRequest, pk: int, slug: str) -> HttpResponse:
    return _form_page(request, pk, slug, None)


def related_row_edit(request: HttpRequest, pk: int, slug: str, row_pk: int) -> HttpResponse:
    return _form_page(request, pk, slug, row_pk)


def related_row_remove(request: HttpRequest, pk: int, slug: str, row_pk: int) -> HttpResponse:
    spec, user = _spec(slug), _user(request)
    contact = related_contact_get(user=user, pk=pk)
    row = related_row_get(spec=spec, contact=contact, pk=row_pk)
    related_row_delete(user=user, spec=spec, contact=contact, row=row)
    messages.success(request, f"{spec.label} “{spec.describe(row)}” was removed from {contact}.")
    return redirect(_contact_url(contact, spec))


# ---------- the list across contacts, and its CSV ----------


def _polish(form: forms.Form) -> None:
    """Filter controls that say "Any" rather than dashes or "Unknown", and date pickers."""
    for form_field in form.fields.values():
        widget = form_field.widget
        if isinstance(form_field, forms.NullBooleanField):
            widget.choices = [("unknown", "Any"), ("true", "Yes"), ("false", "No")]
        elif isinstance(form_field, forms.ChoiceField):
            choices = list(cast(Any, form_field.choices))
            form_field.choices = [("", "Any"), *[c for c in choices if c[0] != ""]]
        elif isinstance(form_field, forms.DateField):
            widget.input_type = "date"


def _filtered(request: HttpRequest, spec: RelatedListSpec, action: str) -> tuple[Any, Any, str]:
    """The FilterSet, the rows it selects (visible contacts only) and the sort key."""
    user = _user(request)
    filterset = spec.filterset(
        request.GET,
        queryset=related_list(user=user, spec=spec, action=action),
        request=FilterContext(user=user),
    )
    sort = request.GET.get("sort", "")
    if sort not in spec.sorts:
        sort = spec.default_sort
    return filterset, filterset.qs, sort


def _object_type(spec: RelatedListSpec) -> str:
    """What saved views of this list are filed under (``contacts.literaturerequest``)."""
    return spec.model._meta.label_lower


def _list_url(spec: RelatedListSpec, query: str = "") -> str:
    url = reverse("contacts:related_list", kwargs={"slug": spec.slug})
    return f"{url}?{query}" if query else url


def _saved_views(user: User, spec: RelatedListSpec) -> QuerySet[SavedView]:
    """The user's own views of the list and those others shared, by name."""
    return SavedView.objects.filter(
        Q(user=user) | Q(shared=True), object_type=_object_type(spec)
    ).order_by("name", "id")


class BulkStatusForm(forms.Form):
    """The status to give every selected row (lists in ``BULK_STATUS_LISTS``)."""

    status = forms.ChoiceField(required=False, label="Set status")

    def __init__(self, *args: Any, spec: RelatedListSpec, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = spec.model_field("status").choices or []
        cast(forms.ChoiceField, self.fields["status"]).choices = [("", "Keep status"), *choices]


def _status_form(spec: RelatedListSpec, data: Any = None) -> BulkStatusForm | None:
    if spec.key not in BULK_STATUS_LISTS:
        return None
    return BulkStatusForm(data, spec=spec, auto_id="bulk_%s")


def related_list_page(request: HttpRequest, slug: str) -> HttpResponse:
    spec, user = _spec(slug), _user(request)
    _require_contacts(user, Action.READ)
    saved_views = list(_saved_views(user, spec))
    view_id = request.GET.get("view", "")
    if view_id.isdigit() and set(request.GET) == {"view"}:
        # Opening a view: show its filters in the address, so paging and sorting keep them.
        saved = next((view for view in saved_views if str(view.pk) == view_id), None)
        if saved is not None:
            query = "&".join(part for part in (saved.query, f"view={saved.pk}") if part)
            return redirect(_list_url(spec, query))
    filterset, rows, sort = _filtered(request, spec, Action.READ)
    _polish(filterset.form)
    page = keyset_page(rows, spec.sorts[sort], request.GET.get("cursor", ""), PAGE_SIZE)
    # Each row's checkbox is labelled with the row and its contact, for screen readers.
    for row in page.rows:
        row.bulk_label = f"{spec.describe(row)} of {row.contact}"
    profile = user.access_profile()
    sort_keys = {cols[0]: key for key, cols in spec.sorts.items() if not key.startswith("-")}
    contact_id = request.GET.get("contact", "")
    context = {
        "spec": spec,
        "filterset": filterset,
        "primary_filters": [filterset.form[name] for name in spec.primary_filters],
        "more_filters": [
            filterset.form[name]
            for name in filterset.form.fields
            if name not in spec.primary_filters
        ],
        "columns": [(name, label, sort_keys.get(name, "")) for name, label in spec.column_labels()],
        "page": page,
        "sort": sort,
        "query": list_query(request.GET),
        "can_export": profile.may(Contact.object_type(), Action.EXPORT),
        "can_bulk": profile.may(Contact.object_type(), Action.UPDATE),
        "bulk_form": _status_form(spec),
        "saved_views": saved_views,
        "active_view": view_id,
        "active_view_name": next(
            (view.name for view in saved_views if str(view.pk) == view_id), ""
        ),
        "views_list_url": _list_url(spec),
        "views_save_url": reverse("contacts:related_save_view", kwargs={"slug": spec.slug}),
        "views_delete_name": f"contacts:{spec.key}_delete_view",
        "contact": (
            Contact.objects.visible_to(user).filter(pk=contact_id).first()
            if contact_id.isdigit()
            else None
        ),
    }
    return render(request, "contacts/related_list.html", context)


def related_view_save(request: HttpRequest, slug: str) -> HttpResponse:
    """Save the list's current filters and sort under a name (overwriting the user's view of
    that name), then open it."""
    spec, user = _spec(slug), _user(request)
    _require_contacts(user, Action.READ)
    query = list_query(QueryDict(request.POST.get("query", "")))
    form = SavedViewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the view a name (at most 100 characters).")
        return redirect(_list_url(spec, query))
    try:
        saved = saved_view_save(
            user=user,
            object_type=_object_type(spec),
            name=form.cleaned_data["name"],
            query=query,
            columns=[],
            shared=request.POST.get("shared") == "on",
        )
    except ValidationFailed as error:
        messages.error(request, " ".join(m for ms in error.errors.values() for m in ms))
        return redirect(_list_url(spec, query))
    messages.success(request, f"Saved the view “{saved.name}”.")
    return redirect(_list_url(spec, f"view={saved.pk}"))


def related_view_delete(request: HttpRequest, slug: str, view_pk: int) -> HttpResponse:
    spec, user = _spec(slug), _user(request)
    if saved_view_delete(user=user, object_type=_object_type(spec), pk=view_pk):
        messages.success(request, "The saved view was deleted.")
    else:
        messages.error(request, "You can only delete your own saved views.")
    return redirect(_list_url(spec))


def related_list_bulk(request: HttpRequest, slug: str) -> HttpResponse:
    """Remove the selected rows, or give them a status, one by one through the services:
    rows of contacts the user may not edit are refused and named, the others are done."""
    spec, user = _spec(slug), _user(request)
    _require_contacts(user, Action.READ)
    back = _list_url(spec, list_query(QueryDict(request.POST.get("query", ""))))
    ids = list(
        dict.fromkeys(
            i for i in request.POST.getlist("ids") if i.isdigit() and int(i) <= LARGEST_ID
        )
    )[:BULK_LIMIT]
    action = request.POST.get("action", "")
    label, label_plural = spec.label.lower(), spec.label_plural.lower()
    if not ids:
        messages.warning(request, f"Select at least one {label} first.")
        return redirect(back)
    changes: dict[str, Any] = {}
    if action == "status":
        form = _status_form(spec, request.POST)
        if form is None:
            messages.error(request, f"Nothing was changed: {label_plural} have no status to set.")
            return redirect(back)
        if not form.is_valid():
            errors = " ".join(str(m) for ms in form.errors.values() for m in ms)
            messages.error(request, f"Nothing was changed: {errors}")
            return redirect(back)
        if not form.cleaned_data["status"]:
            messages.warning(request, "Choose the status to set, then press Set status.")
            return redirect(back)
        changes["status"] = form.cleaned_data["status"]
    elif action != "remove":
        messages.error(request, "Nothing was changed: unknown bulk action.")
        return redirect(back)
    found = related_list(user=user, spec=spec).filter(pk__in=ids)
    rows = {str(row.pk): row for row in found}
    done, refused = 0, []
    for pk in ids:
        row = rows.get(pk)
        if row is None:
            refused.append(f"#{pk}: not on a contact you can see; it may have been removed")
            continue
        try:
            if action == "remove":
                related_row_delete(user=user, spec=spec, contact=row.contact, row=row)
            else:
                related_row_update(user=user, spec=spec, contact=row.contact, row=row, **changes)
        except PatronError as exc:
            refused.append(f"{spec.describe(row)} of {row.contact}: {exc.detail}")
            continue
        done += 1
    verb = "removed" if action == "remove" else "updated"
    if done:
        messages.success(request, f"{done} {label if done == 1 else label_plural} {verb}.")
    if refused:
        messages.warning(request, f"{len(refused)} not {verb}: " + " · ".join(refused[:20]))
    return redirect(back)


class _Echo:
    """A file-like object that hands back what is written (csv.writer into a stream)."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(spec: RelatedListSpec, rows: Any) -> Iterator[str]:
    writer = csv.writer(_Echo())
    names = ["contact_id", "contact", *spec.fields, "created_at"]
    yield writer.writerow(names)
    for row in rows.iterator(chunk_size=CSV_CHUNK):
        values = [row.contact_id, str(row.contact)]
        for name in spec.fields:
            value = getattr(row, name)
            values.append(value.pk if hasattr(value, "pk") else value)
        values.append(row.created_at)
        yield writer.writerow([safe_cell(value) for value in values])


def related_list_export(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    """The filtered list as CSV, streamed as it is read (rows of contacts the user may
    export; the security log records who took which list)."""
    spec, user = _spec(slug), _user(request)
    _require_contacts(user, Action.EXPORT)
    _filterset, rows, sort = _filtered(request, spec, Action.EXPORT)
    query = list_query(request.GET)
    record_export(
        user,
        object_type=spec.model._meta.label_lower,
        query=query,
        file_format="csv",
        streamed=True,
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        _csv_lines(spec, rows.order_by(*spec.sorts[sort])), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{spec.slug}-{stamp}.csv"'
    return response


# ---------- URLs ----------


def _page(view: Callable[..., HttpResponseBase], *, post: bool = False) -> Callable[..., Any]:
    # The CSV download streams; the error pages wrap it all the same.
    wrapped = handles_domain_errors(cast(Callable[..., HttpResponse], view))
    if post:
        wrapped = require_POST(wrapped)
    return login_required(wrapped)


def related_list_urlpatterns() -> list[URLPattern]:
    """Each list's pages under its own literal path, so no other contact URL is shadowed."""
    patterns = []
    for spec in RELATED_LISTS:
        slug = {"slug": spec.slug}
        patterns += [
            path(f"contacts/{spec.slug}/", _page(related_list_page), slug, name="related_list"),
            path(
                f"contacts/{spec.slug}/bulk/",
                _page(related_list_bulk, post=True),
                slug,
                name="related_bulk",
            ),
            path(
                f"contacts/{spec.slug}/views/",
                _page(related_view_save, post=True),
                slug,
                name="related_save_view",
            ),
            # Named per list: the saved-views menu reverses it with the view's id alone.
            path(
                f"contacts/{spec.slug}/views/<int:view_pk>/delete/",
                _page(related_view_delete, post=True),
                slug,
                name=f"{spec.key}_delete_view",
            ),
            path(
                f"contacts/{spec.slug}/export/",
                _page(related_list_export),
                slug,
                name="related_export",
            ),
            path(
                f"contacts/<int:pk>/{spec.slug}/add/",
                _page(related_row_add),
                slug,
                name="related_add",
            ),
            path(
                f"contacts/<int:pk>/{spec.slug}/<int:row_pk>/edit/",
                _page(related_row_edit),
                slug,
                name="related_edit",
            ),
            path(
                f"contacts/<int:pk>/{spec.slug}/<int:row_pk>/remove/",
                _page(related_row_remove, post=True),
                slug,
                name="related_remove",
            ),
        ]
    return patterns
