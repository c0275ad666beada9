"""A lead's confirmed opt-in becomes the contact's consent when the lead is converted.

Lead capture forms with double opt-in record when the person confirmed (``opt_in_state``
confirmed, ``opt_in_confirmed_at``). Converting such a lead records a *granted* marketing-email
answer on the contact, sourced to the web form, unless the contact already has an answer for
it (an existing refusal is never overwritten). A conversion step, so it runs inside the
conversion's transaction; it lives here because consent (contacts) may not import leads.
"""

from __future__ import annotations

from patron.contacts.choices import ConsentPurpose, ConsentSource, ConsentStatus
from patron.contacts.models import ContactConsent
from patron.contacts.related_list_services import consent_record
from patron.leads.choices import OptInState
from patron.leads.conversion import ConversionContext, ConversionStep, register_conversion_step


def record_opt_in_consent(context: ConversionContext) -> None:
    lead = context.lead
    if lead.opt_in_state != OptInState.CONFIRMED:
        return
    purpose = ConsentPurpose.MARKETING_EMAIL
    if ContactConsent.objects.filter(contact=context.contact, purpose=purpose).exists():
        return
    form_name = lead.capture_form.name if lead.capture_form_id and lead.capture_form else ""
    detail = f"Double opt-in confirmed on lead #{lead.pk}"
    if form_name:
        detail += f" (capture form “{form_name}”)"
    consent_record(
        user=context.user,
        contact=context.contact,
        purpose=purpose,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.WEB_FORM,
        recorded_at=lead.opt_in_confirmed_at,
        evidence=detail,
        via=context.via,
    )


def register_capture_consent() -> None:
    register_conversion_step(
        ConversionStep(key="privacy_opt_in_consent", run=record_opt_in_consent, order=900)
    )
