"""What the routing engine and territories read from a lead, and what a territory gives."""

from __future__ import annotations

from decimal import Decimal

import pytest

from patron.contacts.models import Account
from patron.leads.models import Lead
from patron.leads.routing import lead_apply_routing, lead_routing_attributes
from patron.leads.territory import lead_territory_attributes
from patron.routing.models import RoutingQueue
from patron.routing.registry import RoutingTarget, routable
from patron.territories import services as territory_services
from patron.territories.choices import ModelState
from patron.territories.models import TerritoryModel
from patron.territories.registry import territory_subject
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def territory(admin_user, other_rep):
    model = TerritoryModel.objects.create(name="FY2026", state=ModelState.ACTIVE)
    dach = territory_services.territory_save(user=admin_user, model=model, name="DACH")
    territory_services.rule_add(
        user=admin_user,
        territory=dach,
        data={"field": "country", "operator": "in", "values": ["DE", "AT", "CH"]},
    )
    territory_services.member_set(
        user=admin_user, territory=dach, member=other_rep, role="sales_rep"
    )
    return dach


def test_leads_are_registered_for_routing_and_territories():
    assert routable("leads.lead").model is Lead
    assert territory_subject("leads.lead") is not None


def test_routing_attributes_include_territory_users_and_the_accounts_owner(
    lead_roles, rep, other_rep, manager, territory
):
    account = Account.objects.create(name="Analytical Engines", owner=manager)
    lead = Lead.objects.create(
        owner=rep,
        last_name="Lovelace",
        country="DE",
        language="de",
        annual_revenue=Decimal("2500000"),
        employee_count=40,
        matched_account=account,
    )
    territory_services.territory_assign_record(obj=lead)
    attributes = lead_routing_attributes(lead)
    assert attributes["territory_user_ids"] == [other_rep.pk]
    assert attributes["affinity_user_id"] == manager.pk
    assert attributes["deal_size"] == Decimal("2500000")
    assert (attributes["country"], attributes["language"]) == ("DE", "de")
    assert lead_territory_attributes(lead)["employee_count"] == 40


def test_territory_members_see_the_leads_of_their_territory(lead_roles, rep, other_rep, territory):
    lead = Lead.objects.create(owner=rep, last_name="Lovelace", country="AT")
    outside = Lead.objects.create(owner=rep, last_name="Hopper", country="US")
    territory_services.territory_assign_record(obj=lead)
    territory_services.territory_assign_record(obj=outside)
    visible = set(Lead.objects.visible_to(other_rep).values_list("last_name", flat=True))
    assert visible == {"Lovelace"}
    assert not Lead.objects.visible_to(other_rep, "update").filter(pk=lead.pk).exists()


def test_applying_a_queue_target_keeps_the_owner_and_logs_the_change(admin_user, rep):
    queue = RoutingQueue.objects.create(name="Inbound EMEA")
    lead = Lead.objects.create(owner=rep, last_name="Lovelace")
    lead_apply_routing(lead, RoutingTarget(queue_id=queue.pk), "Waiting in the queue")
    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.owner_id, stored.queue_id) == (rep.pk, queue.pk)
    assert stored.routed_at is not None
    assert stored.version == 2
    assert lead.queue_id == queue.pk
    newcomer = UserFactory()
    lead_apply_routing(lead, RoutingTarget(user_id=newcomer.pk), "Round robin")
    stored.refresh_from_db()
    assert (stored.owner_id, stored.queue_id) == (newcomer.pk, None)
