"""Template helpers of the design system: form fields with accessible errors, record values,
sortable column headers."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django import template
from django.forms import BoundField
from django.template.context import Context
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from patron.core.jobs import job_label, job_url
from patron.core.models import Job
from patron.core.values import format_phone

register = template.Library()

EMPTY = "—"
PHONE_FIELDS = frozenset({"phone", "number"})


@register.inclusion_tag("core/partials/field.html")
def form_field(field: BoundField, validate_url: str = "", wide: bool = False) -> dict[str, Any]:
    """One labelled control with help text and inline errors tied by aria-describedby."""
    dom_id = field.auto_id or f"id_{field.html_name}"
    described = []
    if field.help_text:
        described.append(f"{dom_id}_help")
    if field.errors:
        described.append(f"{dom_id}_error")
    attrs: dict[str, str | bool] = {}
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if field.errors:
        attrs["aria-invalid"] = "true"
    widget_type = field.widget_type
    return {
        "field": field,
        "dom_id": dom_id,
        "widget": field.as_widget(attrs=attrs),
        "is_checkbox": widget_type == "checkbox",
        "use_fieldset": field.use_fieldset,
        "validate_url": validate_url if not field.field.disabled else "",
        "wide": wide or widget_type == "textarea",
        "describedby": " ".join(described),
    }


def display_value(value: Any, *, name: str = "") -> str:
    """A stored value as people read it; an em dash for nothing."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime.datetime):
        return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
    if isinstance(value, datetime.date):
        return formats.date_format(value, "DATE_FORMAT")
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, dict) and "amount" in value:
        try:
            return f"{Decimal(str(value['amount'])):,.2f} {value.get('currency', '')}".strip()
        except ArithmeticError:
            return str(value["amount"])
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if name in PHONE_FIELDS and isinstance(value, str):
        return format_phone(value)
    return str(value)


@register.simple_tag
def field_value(record: Any, name: str) -> str:
    """The display value of ``record.<name>`` (choices by label, phones formatted,
    ``custom.<key>`` from the custom-field values)."""
    if name.startswith("custom."):
        return display_value((getattr(record, "custom", None) or {}).get(name[7:]))
    display = getattr(record, f"get_{name}_display", None)
    if callable(display) and getattr(record, name, None):
        return str(display())
    if name == "annual_revenue" and getattr(record, name, None) is not None:
        currency = getattr(record, "revenue_currency", "")
        return f"{display_value(record.annual_revenue)} {currency}".strip()
    return display_value(getattr(record, name, None), name=name)


@register.filter
def change_value(value: Any) -> str:
    """A value as recorded in the change log (JSON form)."""
    return display_value(value)


@register.filter
def phone(value: str) -> str:
    return format_phone(value) if value else EMPTY


@register.simple_tag(takes_context=True)
def sort_header(context: Context, label: str, key: str, css_class: str = "") -> SafeString:
    """A column header that sorts by ``key``; a second click reverses the order."""
    request = context["request"]
    current = str(context.get("sort", ""))
    if current == key:
        target, state, arrow = f"-{key}", "ascending", "↑"
    elif current == f"-{key}":
        target, state, arrow = key, "descending", "↓"
    else:
        target, state, arrow = key, "", ""
    params = request.GET.copy()
    params["sort"] = target
    for transient in ("cursor", "_validate"):
        params.pop(transient, None)
    url = "?" + params.urlencode()
    if state:
        return format_html(
            '<th scope="col" class="{}" aria-sort="{}"><a href="{}" hx-get="{}">{}'
            '<span aria-hidden="true">{}</span></a></th>',
            css_class,
            state,
            url,
            url,
            label,
            arrow,
        )
    return format_html(
        '<th scope="col" class="{}"><a href="{}" hx-get="{}">{}</a></th>',
        css_class,
        url,
        url,
        label,
    )


@register.filter
def initials(value: Any) -> str:
    words = str(value or "").split()
    return "".join(word[0] for word in words[:2]).upper()


@register.filter
def job_title(job: Job) -> str:
    """The job's kind as pages name it, e.g. "CSV export"."""
    return job_label(job)


@register.filter
def job_page(job: Job) -> str:
    """The page that shows the job's progress and result."""
    return job_url(job)
