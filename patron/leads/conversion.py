"""Lead conversion: one transaction makes (or reuses) the account and contact, runs the steps
higher apps registered (pipeline: the optional opportunity), moves the lead's activities to
the contact and account, and marks the lead converted (read-only from then on).

Any error rolls the whole conversion back: nothing is half-converted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from patron.activities.models import ActivityLink
from patron.contacts.choices import AccountKind
from patron.contacts.models import Account, Contact
from patron.contacts.services import account_create, contact_create
from patron.core import events, records, search
from patron.core.choices import Action, Via
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.visibility import Principal, can_access
from patron.leads.choices import LeadStatus
from patron.leads.models import Lead
from patron.leads.selectors import account_by_domain, company_domain
from patron.leads.services import LeadReadOnly


@dataclass
class ConversionContext:
    """What a conversion step sees and may add to.

    ``options`` holds each step's input by key (``options["opportunity"]`` for pipeline's
    step); a step records what it made in ``made`` and the lead fields pointing at it in
    ``lead_changes`` (``converted_opportunity_id``).
    """

    user: Principal
    lead: Lead
    account: Account
    contact: Contact
    via: str
    options: dict[str, Any]
    made: dict[str, Any] = field(default_factory=dict)
    lead_changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConversionStep:
    """One part of every conversion, run inside its transaction.

    The conversion page shows ``form_fields()`` (named ``<key>_<name>``) in a card titled
    ``label``; ``options(cleaned_data)`` turns their values into the step's input
    (``options[key]``), None for "nothing to do".
    """

    key: str
    run: Callable[[ConversionContext], None]
    label: str = ""
    order: int = 100
    form_fields: Callable[[], dict[str, Any]] | None = None
    options: Callable[[dict[str, Any]], Any] | None = None


_steps: dict[str, ConversionStep] = {}


def register_conversion_step(step: ConversionStep) -> None:
    """Run ``step`` in every conversion, inside its transaction (call from ``AppConfig.ready``)."""
    _steps[step.key] = step


def conversion_steps() -> list[ConversionStep]:
    return sorted(_steps.values(), key=lambda s: (s.order, s.key))


@dataclass(frozen=True)
class ConversionResult:
    lead: Lead
    account: Account
    contact: Contact
    account_created: bool
    contact_created: bool
    made: dict[str, Any]

    @property
    def opportunity(self) -> Any:
        return self.made.get("opportunity")


class LeadAlreadyConverted(LeadReadOnly):
    title = "Lead already converted"


def _visible(user: Principal, record: Any, noun: str, field_name: str) -> None:
    if not can_access(user, record, Action.READ):
        raise ValidationFailed(
            f"The {noun} was not found.",
            errors={field_name: [f"No {noun} with id {record.pk} that you can see."]},
        )


def matching_account(*, user: Principal, lead: Lead) -> Account | None:
    """The account a conversion reuses when none is chosen: the one matched on capture,
    else the one with the lead's company email or website domain (if the user can see it)."""
    candidates: list[Account | None] = []
    if lead.matched_account_id:
        candidates.append(Account.objects.filter(pk=lead.matched_account_id).first())
    domain = company_domain(lead.email) if lead.email else ""
    domain = domain or (lead.domain if lead.website else "")
    candidates.append(account_by_domain(domain))
    for account in candidates:
        if account is not None and can_access(user, account, Action.READ):
            return account
    return None


def _new_account(user: Principal, lead: Lead, *, person: bool, via: str) -> Account:
    common = {
        "phone": lead.phone,
        "industry": lead.industry,
        "billing_street": lead.street,
        "billing_city": lead.city,
        "billing_region": lead.region,
        "billing_postal_code": lead.postal_code,
        "billing_country": lead.country,
    }
    if person:
        values: dict[str, Any] = {
            **common,
            "kind": AccountKind.PERSON,
            "first_name": lead.first_name,
            "last_name": lead.last_name,
            "email": lead.email,
        }
    else:
        if not lead.company.strip():
            raise ValidationFailed(
                "The lead has no company to make an account from.",
                errors={
                    "account": [
                        "Choose an existing account, enter the lead's company, or convert "
                        "to a person account (B2C)."
                    ]
                },
            )
        values = {
            **common,
            "kind": AccountKind.COMPANY,
            "name": lead.company.strip(),
            "website": lead.website,
            "domain": lead.domain if not lead.website else "",
            "employee_count": lead.employee_count,
            "annual_revenue": lead.annual_revenue,
        }
    return account_create(
        user=user, via=via, **{k: v for k, v in values.items() if v not in (None, "")}
    )


def _reusable_contact(user: Principal, lead: Lead) -> Contact | None:
    if not lead.email:
        return None
    return Contact.objects.visible_to(user).filter(email__iexact=lead.email).order_by("pk").first()


def _new_contact(user: Principal, lead: Lead, account: Account, *, via: str) -> Contact:
    values = {
        "salutation": lead.salutation,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "title": lead.title,
        "email": lead.email,
        "phone": lead.phone or lead.mobile,
        "language": lead.language,
        "email_opt_out": lead.email_opt_out,
        "description": lead.description,
        "account": account,
    }
    return contact_create(
        user=user, via=via, **{k: v for k, v in values.items() if v not in (None, "")}
    )


def move_lead_activities(
    *, user: Principal, lead: Lead, contact: Contact, account: Account, via: str = Via.UI
) -> int:
    """Relink the lead's activities to the contact and account; the number moved.

    The activity keeps its content; only its links change, each logged on the activity.
    """
    lead_type = ContentType.objects.get_for_model(Lead)
    contact_type = ContentType.objects.get_for_model(Contact)
    account_type = ContentType.objects.get_for_model(Account)
    links = list(
        ActivityLink.objects.filter(content_type=lead_type, object_id=lead.pk).select_related(
            "activity"
        )
    )
    for link in links:
        for content_type, object_id in ((contact_type, contact.pk), (account_type, account.pk)):
            ActivityLink.objects.get_or_create(
                activity=link.activity, content_type=content_type, object_id=object_id
            )
        records.log_change(
            link.activity,
            actor=user,
            via=via,
            action="link",
            changes={
                "links": [
                    f"leads.lead:{lead.pk}",
                    f"contacts.contact:{contact.pk}, contacts.account:{account.pk}",
                ]
            },
        )
        link.delete()
    return len(links)


def _check_permissions(user: Principal, *, new_account: bool, new_contact: bool) -> None:
    profile = user.access_profile()
    if new_account and not profile.may(Account.object_type(), Action.CREATE):
        raise PermissionDenied("Your role may not create accounts; choose an existing one.")
    if new_contact and not profile.may(Contact.object_type(), Action.CREATE):
        raise PermissionDenied("Your role may not create contacts; choose an existing one.")


def lead_convert(
    *,
    user: Principal,
    lead: Lead,
    account: Account | None = None,
    create_account: bool = False,
    person_account: bool = False,
    contact: Contact | None = None,
    opportunity: dict[str, Any] | None = None,
    step_options: dict[str, Any] | None = None,
    via: str = Via.UI,
) -> ConversionResult:
    """Convert ``lead`` in one transaction.

    Account: ``account`` if given; else a new person account (``person_account``); else a
    new company account (``create_account``); else the matching account (``matching_account``)
    or, when none matches, a new company account. Contact: ``contact`` if given; else the
    contact with the lead's email the user can see; else a new one under the account.
    ``opportunity`` (name, pipeline, stage, amount, currency, close_date, contact_role) is
    is the input of pipeline's step (None makes no opportunity); ``step_options`` holds
    the input of other registered steps by key.
    """
    if account is not None:
        _visible(user, account, "account", "account")
    if contact is not None:
        _visible(user, contact, "contact", "contact")
    with transaction.atomic():
        locked = Lead.all_objects.select_for_update().get(pk=lead.pk)
        if locked.converted_at is not None:
            raise LeadAlreadyConverted(locked)
        if locked.archived_at is not None:
            raise ValidationFailed(
                "An archived lead cannot be converted.",
                errors={"lead": ["Restore the lead first, then convert it."]},
            )
        lead = locked
        chosen_account = account
        if chosen_account is None and not (create_account or person_account):
            chosen_account = matching_account(user=user, lead=lead)
        chosen_contact = contact or _reusable_contact(user, lead)
        _check_permissions(
            user, new_account=chosen_account is None, new_contact=chosen_contact is None
        )
        account_created = chosen_account is None
        if chosen_account is None:
            chosen_account = _new_account(user, lead, person=person_account, via=via)
        contact_created = chosen_contact is None
        if chosen_contact is None:
            chosen_contact = _new_contact(user, lead, chosen_account, via=via)
        context = ConversionContext(
            user=user,
            lead=lead,
            account=chosen_account,
            contact=chosen_contact,
            via=via,
            options={**(step_options or {}), "opportunity": opportunity},
        )
        for step in conversion_steps():
            step.run(context)
        moved = move_lead_activities(
            user=user, lead=lead, contact=chosen_contact, account=chosen_account, via=via
        )
        lead = records.record_update(
            lead,
            changes={
                "converted_at": timezone.now(),
                "converted_by": user,
                "converted_account": chosen_account,
                "converted_contact": chosen_contact,
                "status": LeadStatus.QUALIFIED,
                **context.lead_changes,
            },
            actor=user,
            via=via,
        )
        search.index_record(lead)
        events.emit(
            "lead.converted",
            pk=lead.pk,
            actor_id=getattr(user, "pk", None),
            account_id=chosen_account.pk,
            contact_id=chosen_contact.pk,
            opportunity_id=lead.converted_opportunity_id,
            activities_moved=moved,
        )
    return ConversionResult(
        lead=lead,
        account=chosen_account,
        contact=chosen_contact,
        account_created=account_created,
        contact_created=contact_created,
        made=context.made,
    )
