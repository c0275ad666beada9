"""Pages of the contact related lists: a card per list on the contact page, the add/edit form,
remove, a page per list across all visible contacts, and its CSV download.

Cards are detail panels (core.record_pages.register_detail_panel), so contacts/views.py is
untouched. Forms are plain POSTs: a valid one returns to the contact page, an invalid one
shows the form again (422) with the input kept and the errors on their fields.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from typing import Any, cast
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
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
from patron.contacts.related_lists import CONSENTS, RELATED_LISTS, SPECS_BY_SLUG, RelatedListSpec
from patron.core.choices import Action, SecurityEventKind
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.exports import safe_cell
from patron.core.filters import FilterContext
from patron.core.forms import add_service_errors
from patron.core.models import SecurityEvent
from patron.core.record_pages import DetailPanel, list_query, register_detail_panel
from patron.core.views import handles_domain_errors, keyset_page
from patron.core.visibility import can_access
from patron.users.models import User

# A card shows this many rows; "See all" opens the list page filtered to the contact.
CARD_ROWS = 10
PAGE_SIZE = 50
CSV_CHUNK = 1000
_CAN_EDIT_ATTR = "_patron_contact_can_edit"


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


def related_list_page(request: HttpRequest, slug: str) -> HttpResponse:
    spec, user = _spec(slug), _user(request)
    _require_contacts(user, Action.READ)
    filterset, rows, sort = _filtered(request, spec, Action.READ)
    _polish(filterset.form)
    page = keyset_page(rows, spec.sorts[sort], request.GET.get("cursor", ""), PAGE_SIZE)
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
        "can_export": user.access_profile().may(Contact.object_type(), Action.EXPORT),
        "contact": (
            Contact.objects.visible_to(user).filter(pk=contact_id).first()
            if contact_id.isdigit()
            else None
        ),
    }
    return render(request, "contacts/related_list.html", context)


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
    SecurityEvent.objects.create(
        kind=SecurityEventKind.EXPORT,
        user=user,
        email=user.email,
        detail={"object_type": spec.model._meta.label_lower, "query": query, "streamed": True},
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
