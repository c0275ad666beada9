"""How leads appear in global search: name, email, company and phone."""

from __future__ import annotations

from patron.contacts.search import phone_terms
from patron.core import search
from patron.core.values import email_domain
from patron.leads.models import Lead


def describe_lead(lead: Lead) -> tuple[str, str, str]:
    name = f"{lead.first_name} {lead.last_name}".strip()
    subtitle = " · ".join(
        p for p in (lead.company, lead.email, lead.get_status_display(), "Lead") if p
    )
    parts = [
        name,
        lead.company,
        lead.email,
        email_domain(lead.email),
        lead.domain,
        *phone_terms(lead.phone),
        *phone_terms(lead.mobile),
    ]
    return name, subtitle, " ".join(dict.fromkeys(p for p in parts if p))


def register_search() -> None:
    search.register(Lead, describe_lead, url=lambda pk: f"/leads/{pk}/", label="Leads")
