"""The page that edits a contact's typed emails, phones and addresses in one form.

Rows are plain numbered inputs (``emails-0-email``, ``emails-0-kind``, ...) plus one radio per
list for the primary; blank rows are ignored, so clearing a row removes that entry.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render

from patron.contacts.choices import AddressKind, EmailKind, PhoneKind
from patron.contacts.models import Contact
from patron.contacts.selectors import contact_get
from patron.contacts.services import contact_channels_replace
from patron.core.choices import Action
from patron.core.exceptions import ValidationFailed, VersionConflict
from patron.core.values import format_phone
from patron.core.views import handles_domain_errors
from patron.users.models import User

BLANK_ROWS = 2
ADDRESS_PARTS = ("street", "city", "region", "postal_code", "country")
PART_LABELS = {
    "email": "Email",
    "number": "Number",
    "street": "Street",
    "city": "City",
    "region": "Region",
    "postal_code": "Postal code",
    "country": "Country (2 letters)",
}
# list name -> (value fields, kind choices)
CHANNELS: dict[str, tuple[tuple[str, ...], Any]] = {
    "emails": (("email",), EmailKind),
    "phones": (("number",), PhoneKind),
    "addresses": (ADDRESS_PARTS, AddressKind),
}


def _rows_from_contact(contact: Contact) -> dict[str, list[dict[str, Any]]]:
    return {
        "emails": [
            {"kind": e.kind, "email": e.email, "is_primary": e.is_primary}
            for e in contact.emails.all()
        ],
        "phones": [
            {"kind": p.kind, "number": format_phone(p.number), "is_primary": p.is_primary}
            for p in contact.phones.all()
        ],
        "addresses": [
            {
                "kind": a.kind,
                **{part: getattr(a, part) for part in ADDRESS_PARTS},
                "is_primary": a.is_primary,
            }
            for a in contact.addresses.all()
        ],
    }


def _rows_from_post(data: QueryDict) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for name, (parts, _kinds) in CHANNELS.items():
        total = min(int(data.get(f"{name}-total", "0") or 0), 50)
        primary = data.get(f"{name}-primary", "")
        rows[name] = [
            {
                "kind": data.get(f"{name}-{index}-kind", ""),
                **{part: data.get(f"{name}-{index}-{part}", "").strip() for part in parts},
                "is_primary": primary == str(index),
            }
            for index in range(total)
        ]
    return rows


def _filled(rows: list[dict[str, Any]], parts: tuple[str, ...]) -> list[tuple[int, dict[str, Any]]]:
    return [(index, row) for index, row in enumerate(rows) if any(row.get(p) for p in parts)]


def _with_blank_rows(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [*items, *({"kind": "", "is_primary": False} for _ in range(BLANK_ROWS))]
        for name, items in rows.items()
    }


@login_required
@handles_domain_errors
def contact_channels_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = cast(User, request.user)
    contact = contact_get(user=user, pk=pk, action=Action.UPDATE)
    errors: dict[tuple[str, int], list[str]] = {}
    list_errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        rows = _rows_from_post(request.POST)
        filled = {name: _filled(rows[name], CHANNELS[name][0]) for name in CHANNELS}
        version_text = request.POST.get("version", "")
        try:
            contact_channels_replace(
                user=user,
                contact=contact,
                expected_version=int(version_text) if version_text.isdigit() else None,
                emails=[row for _index, row in filled["emails"]],
                phones=[row for _index, row in filled["phones"]],
                addresses=[row for _index, row in filled["addresses"]],
            )
        except VersionConflict as conflict:
            messages.error(
                request,
                f"{conflict.detail} Nothing was saved; your entries are kept below.",
            )
            status = 409
        except ValidationFailed as error:
            for key, messages_ in error.errors.items():
                name, _, rest = key.partition(".")
                position = rest.split(".", 1)[0]
                if position.isdigit() and name in filled:
                    errors[(name, filled[name][int(position)][0])] = messages_
                else:
                    list_errors.setdefault(name, []).extend(messages_)
            status = 400
        else:
            messages.success(request, "Emails, phones and addresses saved.")
            return redirect("contacts:contact_detail", pk=contact.pk)
        version = contact.version if status == 409 else version_text
    else:
        rows = _rows_from_contact(contact)
        version = str(contact.version)
    sections = [
        {
            "name": name,
            "title": {"emails": "Emails", "phones": "Phones", "addresses": "Addresses"}[name],
            "parts": parts,
            "kinds": kinds.choices,
            "rows": [
                {
                    "index": index,
                    "row": row,
                    "fields": [
                        {"part": part, "label": PART_LABELS[part], "value": row.get(part, "")}
                        for part in parts
                    ],
                    "errors": errors.get((name, index), []),
                }
                for index, row in enumerate(_with_blank_rows(rows)[name])
            ],
            "errors": list_errors.get(name, []),
        }
        for name, (parts, kinds) in CHANNELS.items()
    ]
    context = {
        "record": contact,
        "sections": sections,
        "version": version,
        "has_errors": status != 200,
    }
    return render(request, "contacts/contact_channels.html", context, status=status)
