"""Demo data: the Maven Analytics CRM sample (companies, sales agents, regional teams).

Accounts come from ``demo_data/accounts.csv``; sales agents and their managers from
``sales_teams.csv`` become users in one team per regional office, with managers in the
"Sales Manager" role above the "Sales Rep" role. Each account gets two or three generated
people. Everything goes through the services, so the change log and search index are filled
as for any other record. Loading again adds only what is missing.
"""

from __future__ import annotations

import csv
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import phonenumbers
from django.conf import settings
from django.db import transaction

from patron.contacts.models import Account, Contact
from patron.contacts.services import account_create, contact_create
from patron.core.choices import Via
from patron.users import services as user_services
from patron.users.models import Role, Team, User

DATA_DIR = Path(__file__).resolve().parent / "demo_data"
DEMO_EMAIL_DOMAIN = "demo.patron.example"
MANAGER_ROLE = "Sales Manager"
REP_ROLE = "Sales Rep"

# The sample spells some sectors and countries its own way.
SECTOR_FIXES = {"technolgy": "technology"}
COUNTRY_CODES = {
    "Belgium": "BE",
    "Brazil": "BR",
    "China": "CN",
    "Germany": "DE",
    "Italy": "IT",
    "Japan": "JP",
    "Jordan": "JO",
    "Kenya": "KE",
    "Korea": "KR",
    "Norway": "NO",
    "Panama": "PA",
    "Philipines": "PH",
    "Philippines": "PH",
    "Poland": "PL",
    "Romania": "RO",
    "United States": "US",
}

FIRST_NAMES = (
    "Ana", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Kemi", "Liam", "Maya", "Nikolai", "Olivia", "Pedro", "Quinn", "Rosa", "Sanjay", "Tara",
    "Umar", "Vera", "Wen", "Ximena", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Andersen", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes",
    "Ito", "Jensen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Park", "Quintero",
    "Rossi", "Silva", "Tanaka", "Urban", "Varga", "Weber", "Xu", "Young", "Zimmer",
)  # fmt: skip
TITLES = (
    ("Chief Executive Officer", "Executive"),
    ("Chief Financial Officer", "Finance"),
    ("Head of Procurement", "Procurement"),
    ("IT Director", "IT"),
    ("Operations Manager", "Operations"),
    ("Purchasing Specialist", "Procurement"),
    ("VP Engineering", "Engineering"),
)


@dataclass(frozen=True)
class DemoSummary:
    accounts: int
    contacts: int
    users: int
    teams: int

    def __str__(self) -> str:
        return (
            f"{self.accounts} accounts, {self.contacts} contacts, "
            f"{self.users} sales users, {self.teams} teams"
        )


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(newline="", encoding="utf-8") as handle:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def _slug(text: str, sep: str = "") -> str:
    return re.sub(r"[^a-z0-9]+", sep, text.lower()).strip(sep)


def account_domain(name: str) -> str:
    """A domain derived from the company name, under a reserved TLD so no mail leaves."""
    return f"{_slug(name)}.example"


def person_email(full_name: str, domain: str) -> str:
    return f"{_slug(full_name, '.')}@{domain}"


def demo_phone(country: str, rng: random.Random) -> str:
    """A valid E.164 number for ``country``: its example number with the last digits varied."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.FIXED_LINE)
    if example is None:
        raise ValueError(f"no example phone number for country {country!r}")
    base = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    candidate = base[:-3] + f"{rng.randrange(1000):03d}"
    if phonenumbers.is_valid_number(phonenumbers.parse(candidate, None)):
        return candidate
    return base


def _demo_actor() -> User:
    """Demo records are written as the first administrator (the one first start created)."""
    admin = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if admin is None:
        admin = user_services.user_create(
            email=settings.FIRST_ADMIN_EMAIL,
            password=None,
            full_name="Administrator",
            is_superuser=True,
        )
    return admin


def _team(name: str, actor: User) -> Team:
    existing = Team.objects.filter(name=name).first()
    return existing or user_services.team_save(actor=actor, name=name)


def _load_sales_users(actor: User) -> dict[str, tuple[User, Team]]:
    """Sales agents and managers as users with their regional team, keyed by full name."""
    # The default roles (with their permissions) exist once bootstrapped; the demo uses them.
    roles = user_services.bootstrap_roles()
    manager_role, rep_role = roles[MANAGER_ROLE], roles[REP_ROLE]
    rows = _read_csv("sales_teams.csv")
    wanted: dict[str, tuple[Role, str]] = {}
    for row in rows:
        wanted.setdefault(row["manager"], (manager_role, row["regional_office"]))
        wanted[row["sales_agent"]] = (rep_role, row["regional_office"])
    existing = {
        user.email: user for user in User.objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}")
    }
    teams = {
        office: _team(f"{office} sales", actor)
        for office in sorted({o for _, o in wanted.values()})
    }
    users: dict[str, tuple[User, Team]] = {}
    for full_name, (role, office) in sorted(wanted.items()):
        email = person_email(full_name, DEMO_EMAIL_DOMAIN)
        user = existing.get(email)
        if user is None:
            # No password: demo people cannot log in until an administrator sets one.
            user = user_services.user_create(
                email=email, password=None, full_name=full_name, role=role, teams=[teams[office]]
            )
        users[full_name] = (user, teams[office])
    return users


def _account_owners() -> dict[str, str]:
    """For each account, the sales agent with the most opportunities on it (ties by name)."""
    deals: dict[str, Counter[str]] = defaultdict(Counter)
    for row in _read_csv("sales_pipeline.csv"):
        if row["account"]:
            deals[row["account"]][row["sales_agent"]] += 1
    return {
        account: min(counts.items(), key=lambda item: (-item[1], item[0]))[0]
        for account, counts in deals.items()
    }


def _account_fields(row: dict[str, str], rng: random.Random) -> dict[str, Any]:
    country = COUNTRY_CODES.get(row["office_location"], "")
    domain = account_domain(row["account"])
    sector = row["sector"].lower()
    fields: dict[str, Any] = {
        "name": row["account"],
        "industry": SECTOR_FIXES.get(sector, sector).capitalize(),
        "domain": domain,
        "website": f"https://www.{domain}",
        "billing_country": country,
        "revenue_currency": "USD",
        "description": "Demo company from the Maven Analytics CRM sample.",
    }
    if country:
        fields["phone"] = demo_phone(country, rng)
    if row["revenue"]:
        # The sample gives revenue in millions of US dollars.
        fields["annual_revenue"] = (Decimal(row["revenue"]) * 1_000_000).quantize(Decimal("1"))
    if row["employees"]:
        fields["employee_count"] = int(row["employees"])
    if row["year_established"]:
        fields["year_established"] = int(row["year_established"])
    return fields


def _people_for(account: Account, rng: random.Random) -> list[dict[str, Any]]:
    people = []
    used: set[str] = set()
    for _ in range(rng.choice((2, 3))):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        while f"{first} {last}" in used:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        used.add(f"{first} {last}")
        title, department = rng.choice(TITLES)
        people.append(
            {
                "first_name": first,
                "last_name": last,
                "title": title,
                "department": department,
                "email": person_email(f"{first} {last}", account.domain),
                "phone": demo_phone(account.billing_country or "US", rng),
            }
        )
    return people


def demo_load() -> DemoSummary:
    """Load the demo sample; records that exist already (by name or email) are kept."""
    with transaction.atomic():
        actor = _demo_actor()
        users = _load_sales_users(actor)
        owners = _account_owners()
        rows = sorted(
            _read_csv("accounts.csv"), key=lambda r: (bool(r["subsidiary_of"]), r["account"])
        )
        accounts = {
            a.name: a for a in Account.all_objects.filter(name__in=[r["account"] for r in rows])
        }
        known_emails = set(
            Contact.all_objects.filter(account__in=accounts.values()).values_list(
                "email", flat=True
            )
        )
        for row in rows:
            # Seeded by the name, so every load generates the same people.
            rng = random.Random(row["account"])
            owner, team = users.get(owners.get(row["account"], ""), (actor, None))
            fields = _account_fields(row, rng)
            account = accounts.get(row["account"])
            if account is None:
                parent = accounts.get(row["subsidiary_of"]) if row["subsidiary_of"] else None
                account = account_create(
                    user=actor, via=Via.IMPORT, owner=owner, team=team, parent=parent, **fields
                )
                accounts[account.name] = account
            for person in _people_for(account, rng):
                if person["email"] in known_emails:
                    continue
                contact_create(
                    user=actor,
                    via=Via.IMPORT,
                    owner=account.owner,
                    team=account.team,
                    account=account,
                    **person,
                )
                known_emails.add(person["email"])
        return DemoSummary(
            accounts=len(accounts),
            contacts=Contact.objects.filter(account__in=accounts.values()).count(),
            users=len(users),
            teams=Team.objects.filter(name__endswith=" sales").count(),
        )
