"""Demo data from the Maven CRM sample: what it loads, and that loading again adds nothing."""

from __future__ import annotations

import random
from decimal import Decimal

import phonenumbers
from django.test import TestCase

from patron import cli
from patron.contacts.demo import (
    DEMO_EMAIL_DOMAIN,
    MANAGER_ROLE,
    REP_ROLE,
    DemoSummary,
    account_domain,
    demo_load,
    demo_phone,
)
from patron.contacts.models import Account, Contact
from patron.core.models import ChangeLogEntry
from patron.users.models import Role, Team, User


class DemoLoadTests(TestCase):
    summary: DemoSummary

    @classmethod
    def setUpTestData(cls) -> None:
        cls.summary = demo_load()

    def test_loads_every_sample_account_with_two_or_three_people(self) -> None:
        assert self.summary.accounts == 85
        assert Account.objects.count() == 85
        per_account = Contact.objects.values_list("account_id", flat=True)
        counts = {pk: list(per_account).count(pk) for pk in set(per_account)}
        assert len(counts) == 85
        assert set(counts.values()) <= {2, 3}
        assert self.summary.contacts == Contact.objects.count()

    def test_account_fields_come_from_the_csv_with_fixes(self) -> None:
        acme = Account.objects.get(name="Acme Corporation")
        assert acme.industry == "Technology"
        assert not Account.objects.filter(industry__icontains="technolgy").exists()
        assert acme.annual_revenue == Decimal("1100040000")
        assert acme.revenue_currency == "USD"
        assert acme.employee_count == 2822
        assert acme.year_established == 1996
        assert acme.billing_country == "US"
        assert acme.domain == "acmecorporation.example"
        assert Account.objects.get(name="Bioholding").billing_country == "PH"

    def test_subsidiaries_point_at_their_parent(self) -> None:
        children = Account.objects.filter(parent__name="Acme Corporation")
        assert children.count() == 4
        assert Account.objects.filter(parent__isnull=False).count() == 15

    def test_people_have_work_emails_and_e164_phones(self) -> None:
        for contact in Contact.objects.select_related("account"):
            assert contact.account is not None
            assert contact.email.endswith("@" + contact.account.domain)
            number = phonenumbers.parse(contact.phone, None)
            assert phonenumbers.is_valid_number(number), contact.phone
            assert contact.owner_id == contact.account.owner_id

    def test_sales_agents_are_users_in_regional_teams_under_managers(self) -> None:
        manager_role = Role.objects.get(name=MANAGER_ROLE)
        rep_role = Role.objects.get(name=REP_ROLE)
        assert rep_role.parent_id == manager_role.pk
        agents = User.objects.filter(email__endswith="@" + DEMO_EMAIL_DOMAIN)
        assert agents.filter(role=rep_role).count() == 35
        assert agents.filter(role=manager_role).count() == 6
        assert sorted(Team.objects.values_list("name", flat=True)) == [
            "Central sales",
            "East sales",
            "West sales",
        ]
        anna = User.objects.get(email="anna.snelling@" + DEMO_EMAIL_DOMAIN)
        assert [team.name for team in anna.teams.all()] == ["Central sales"]
        assert not anna.has_usable_password()

    def test_accounts_belong_to_the_agent_with_most_deals(self) -> None:
        acme = Account.objects.select_related("owner", "team").get(name="Acme Corporation")
        assert acme.owner.email.endswith("@" + DEMO_EMAIL_DOMAIN)
        assert acme.team is not None
        assert acme.team in acme.owner.teams.all()

    def test_records_are_written_through_services(self) -> None:
        created = ChangeLogEntry.objects.filter(action="create", via="import")
        assert created.count() == Account.objects.count() + Contact.objects.count()

    def test_loading_again_through_the_cli_adds_nothing(self) -> None:
        before = (Account.objects.count(), Contact.objects.count(), User.objects.count())
        assert cli.main(["demo"]) == 0
        assert demo_load() == self.summary
        after = (Account.objects.count(), Contact.objects.count(), User.objects.count())
        assert after == before


def test_account_domain_is_derived_from_the_name() -> None:
    assert account_domain("Vehement Capital Partners") == "vehementcapitalpartners.example"
    assert account_domain("Nam-zim") == "namzim.example"


def test_demo_phone_is_valid_and_repeatable() -> None:
    for country in ("US", "KE", "PH", "JP", "NO"):
        first = demo_phone(country, random.Random("seed"))
        assert first == demo_phone(country, random.Random("seed"))
        assert phonenumbers.is_valid_number(phonenumbers.parse(first, None))
