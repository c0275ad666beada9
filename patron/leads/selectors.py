"""The read path for leads and capture forms."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from patron.contacts.models import Account, Contact, ContactEmail
from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, RecordNotFound
from patron.core.querysets import RecordQuerySet
from patron.core.values import email_domain
from patron.core.visibility import Principal, can_access
from patron.leads.models import CaptureForm, CaptureSubmission, Lead, LeadSettings

# Mail providers whose domain says nothing about the sender's company: an address there
# never matches an account by domain. A trailing ".*" covers every top-level domain.
PUBLIC_MAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com",
    "googlemail.com",
    "yahoo.*",
    "ymail.com",
    "hotmail.*",
    "outlook.com",
    "outlook.*",
    "live.com",
    "live.*",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "gmx.*",
    "web.de",
    "t-online.de",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "tutanota.com",
    "zoho.com",
    "yandex.*",
    "mail.ru",
    "qq.com",
    "163.com",
    "126.com",
    "naver.com",
    "hey.com",
    "fastmail.com",
    "orange.fr",
    "free.fr",
    "libero.it",
)
SUGGESTION_LIMIT = 5


def lead_list(*, user: Principal) -> RecordQuerySet[Lead]:
    return Lead.objects.visible_to(user).select_related("owner", "queue")


def lead_get(*, user: Principal, pk: Any, action: str = Action.READ) -> Lead:
    try:
        record = Lead.objects.select_related(
            "owner",
            "owner__role",
            "team",
            "queue",
            "capture_form",
            "matched_contact",
            "matched_account",
            "converted_account",
            "converted_contact",
            "converted_by",
        ).get(pk=pk)
    except (Lead.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"No lead with id {pk}.") from None
    if not can_access(user, record, Action.READ):
        raise RecordNotFound(f"No lead with id {pk}.")
    if action != Action.READ and not can_access(user, record, action):
        raise PermissionDenied(
            f"You may not {action} this lead; ask its owner or an administrator to share it "
            "with edit access."
        )
    return record


def lead_settings() -> LeadSettings:
    """The organisation's lead settings (the one row, made on first use)."""
    settings = LeadSettings.objects.order_by("pk").first()
    return settings if settings is not None else LeadSettings.objects.create()


def is_public_mail_domain(domain: str, *, extra: list[str] | tuple[str, ...] = ()) -> bool:
    """Whether ``domain`` is a public mail provider (built-in list plus ``extra``)."""
    domain = domain.lower().strip()
    if not domain:
        return True
    for pattern in (*PUBLIC_MAIL_DOMAINS, *(str(e).lower().strip() for e in extra)):
        if pattern.endswith(".*"):
            # yahoo.* covers yahoo.com, yahoo.de and yahoo.co.uk.
            if domain.startswith(pattern[:-1]):
                return True
        elif domain == pattern:
            return True
    return False


def company_domain(email: str, *, settings: LeadSettings | None = None) -> str:
    """The email's domain if it names a company (not a public mail provider), else ""."""
    domain = email_domain(email)
    extra = (settings or lead_settings()).extra_public_domains or []
    return "" if is_public_mail_domain(domain, extra=extra) else domain


def contact_by_email(email: str) -> Contact | None:
    """The contact with this (normalised, lower-case) email, primary or any of their
    addresses, oldest first. Exact matches, so the email indexes answer."""
    if not email:
        return None
    contacts = Contact.objects.select_related("account").order_by("pk")
    found = contacts.filter(email=email).first()
    if found is None:
        owner_ids = ContactEmail.objects.filter(email=email).values("contact_id")
        found = contacts.filter(pk__in=owner_ids).first()
    return found


def account_by_domain(domain: str) -> Account | None:
    if not domain:
        return None
    return Account.objects.filter(domain=domain.lower()).order_by("pk").first()


def open_lead_by_email(email: str, *, exclude_pk: int | None = None) -> Lead | None:
    """The newest unconverted, unarchived, not disqualified lead with this email."""
    if not email:
        return None
    leads = Lead.objects.filter(
        email=email.lower(), converted_at__isnull=True, archived_at__isnull=True
    ).exclude(status="disqualified")
    if exclude_pk is not None:
        leads = leads.exclude(pk=exclude_pk)
    return leads.order_by("-created_at", "-pk").first()


def account_suggestions(*, user: Principal, lead: Lead) -> list[Account]:
    """Accounts the user can see that the lead probably belongs to: its matched account,
    accounts with its company domain, then accounts named like its company."""
    visible = Account.objects.visible_to(user)
    found: list[Account] = []
    if lead.matched_account_id:
        found += list(visible.filter(pk=lead.matched_account_id))
    domain = lead.domain if not is_public_mail_domain(lead.domain) else ""
    if domain:
        found += list(
            visible.filter(domain__iexact=domain).order_by("name", "pk")[:SUGGESTION_LIMIT]
        )
    if lead.company:
        found += list(
            visible.filter(name__iexact=lead.company.strip()).order_by("pk")[:SUGGESTION_LIMIT]
        )
        if len(found) < SUGGESTION_LIMIT:
            found += list(
                visible.filter(name__icontains=lead.company.strip()).order_by("name", "pk")[
                    :SUGGESTION_LIMIT
                ]
            )
    unique: dict[int, Account] = {}
    for account in found:
        unique.setdefault(account.pk, account)
    return list(unique.values())[:SUGGESTION_LIMIT]


def contact_suggestions(*, user: Principal, lead: Lead) -> list[Contact]:
    """Contacts the user can see with the lead's email."""
    if not lead.email:
        return []
    return list(
        Contact.objects.visible_to(user)
        .filter(Q(email__iexact=lead.email) | Q(emails__email__iexact=lead.email))
        .select_related("account")
        .distinct()
        .order_by("pk")[:SUGGESTION_LIMIT]
    )


def capture_form_list() -> list[CaptureForm]:
    return list(CaptureForm.objects.select_related("default_owner").order_by("name", "pk"))


def capture_form_get(*, pk: Any) -> CaptureForm:
    try:
        return CaptureForm.objects.select_related("default_owner").get(pk=pk)
    except (CaptureForm.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"No capture form with id {pk}.") from None


def capture_form_by_key(key: str) -> CaptureForm:
    """The active form with this public key, or RecordNotFound saying so."""
    form = CaptureForm.objects.filter(key=key).select_related("default_owner").first()
    if form is None or not form.is_active:
        raise RecordNotFound(
            f"There is no active lead capture form with the key {key!r}. Check the key in the "
            "embed snippet, or ask the site's administrator whether the form was switched off."
        )
    return form


def recent_submissions(*, form: CaptureForm, limit: int = 50) -> list[CaptureSubmission]:
    return list(form.submissions.select_related("lead").order_by("-received_at", "-pk")[:limit])
