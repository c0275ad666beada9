"""The "Consent" card on the contact page: every purpose with its current answer,
the history of answers, and a form (HTMX, plain POST without JavaScript) to record a new one.

Recording goes through ``related_list_services.consent_record``, the one consent write path
(the Consent related-list card and the API use it too), which appends the history row.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from patron.contacts.choices import ConsentSource, ConsentStatus
from patron.contacts.consent import consent_current, consent_history, consent_purposes
from patron.contacts.models import Contact
from patron.contacts.related_list_selectors import related_contact_get
from patron.contacts.related_list_services import consent_record
from patron.contacts.related_list_views import _can_edit as can_edit_contact
from patron.core.choices import Action, Via
from patron.core.exceptions import ValidationFailed
from patron.core.forms import add_service_errors
from patron.core.record_pages import DetailPanel, register_detail_panel
from patron.core.views import handles_domain_errors, is_htmx, principal

HISTORY_ROWS = 50
PANEL_TEMPLATE = "contacts/partials/consent_panel.html"


class ConsentAnswerForm(forms.Form):
    purpose = forms.ChoiceField(label="Purpose")
    status = forms.ChoiceField(label="Answer", choices=ConsentStatus.choices)
    source = forms.ChoiceField(label="Source", choices=ConsentSource.choices)
    source_detail = forms.CharField(
        label="Source detail",
        required=False,
        max_length=1000,
        help_text="Form URL, email reference, call notes… (optional)",
    )
    given_at = forms.DateTimeField(
        label="Given on",
        required=False,
        help_text="When the person answered; leave empty for now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["purpose"])
        field.choices = [(info.key, info.label) for info in consent_purposes()]
        self.fields["source"].initial = ConsentSource.MANUAL


def _context(
    request: HttpRequest, contact: Contact, form: ConsentAnswerForm | None = None
) -> dict[str, Any]:
    """The card: current answers (one query); the history loads when it is opened."""
    return {
        "contact": contact,
        "states": consent_current(contact),
        # The related-list cards' per-request answer, so this card costs no access query.
        "can_edit": can_edit_contact(request, contact),
        "form": form or ConsentAnswerForm(auto_id="consent_%s"),
        "saved": False,
    }


def _panel(request: HttpRequest, contact: Any) -> dict[str, Any] | None:
    return _context(request, contact)


@login_required
@require_POST
@handles_domain_errors
def consent_answer(request: HttpRequest, pk: int) -> HttpResponse:
    """Record an answer; HTMX gets the card back (422 with the errors on their fields)."""
    user = principal(request)
    contact = related_contact_get(user=user, pk=pk, action=Action.UPDATE)
    form = ConsentAnswerForm(request.POST, auto_id="consent_%s")
    status = 200
    saved = False
    if form.is_valid():
        data = form.cleaned_data
        try:
            consent_record(
                user=user,
                contact=contact,
                purpose=data["purpose"],
                status=data["status"],
                source=data["source"],
                recorded_at=data["given_at"],
                evidence=data["source_detail"],
                via=Via.UI,
            )
            saved = True
        except ValidationFailed as error:
            if "evidence" in error.errors:
                error.errors["source_detail"] = error.errors.pop("evidence")
            if "recorded_at" in error.errors:
                error.errors["given_at"] = error.errors.pop("recorded_at")
            add_service_errors(form, error)
    if not saved:
        status = 422
    if not is_htmx(request):
        if saved:
            url = reverse("contacts:contact_detail", args=[contact.pk])
            return redirect(f"{url}#consent-panel")
        context = _context(request, contact, form)
        return render(request, "contacts/consent_form_page.html", {"panel": context}, status=422)
    context = _context(request, contact, None if saved else form)
    context["saved"] = saved
    return render(request, PANEL_TEMPLATE, {"panel": context}, status=status)


@login_required
@handles_domain_errors
def consent_history_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The contact's answers, newest first: the card's history (HTMX) or a page of its own."""
    contact = related_contact_get(user=principal(request), pk=pk)
    rows = list(consent_history(contact)[: HISTORY_ROWS + 1])
    context = {
        "contact": contact,
        "history": rows[:HISTORY_ROWS],
        "more_history": len(rows) > HISTORY_ROWS,
    }
    if is_htmx(request):
        return render(request, "contacts/partials/consent_history.html", context)
    return render(request, "contacts/consent_history_page.html", context)


def register_consent_ui() -> None:
    register_detail_panel(
        DetailPanel(
            key="contacts.consent_by_purpose",
            template=PANEL_TEMPLATE,
            context=_panel,
            object_types=frozenset({Contact.object_type()}),
            order=31,
            column="side",
        )
    )
