"""The account hierarchy: the descendants tree in a bounded number of queries, ancestors,
hidden accounts keeping their place, roll-ups, cycle prevention on deep chains, the API."""

from __future__ import annotations

import pytest
from django.test import Client

from patron.contacts import rollups
from patron.contacts.models import Contact
from patron.contacts.selectors import account_hierarchy
from patron.contacts.services import account_create, account_update, contact_create
from patron.contacts.tests.test_api import bearer
from patron.core.exceptions import ValidationFailed
from patron.core.testing import assert_max_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(rep):
    """Holding > (Acme > Acme Labs > Acme Labs EU), (Beta)."""
    holding = account_create(user=rep, name="Holding")
    acme = account_create(user=rep, name="Acme", parent=holding)
    labs = account_create(user=rep, name="Acme Labs", parent=acme)
    eu = account_create(user=rep, name="Acme Labs EU", parent=labs)
    beta = account_create(user=rep, name="Beta", parent=holding)
    for account in (holding, acme, labs, eu, eu):
        contact_create(user=rep, last_name=f"Person at {account.name}", account=account)
    return {"holding": holding, "acme": acme, "labs": labs, "eu": eu, "beta": beta}


def _names(nodes):
    return [(node.name, _names(node.children)) for node in nodes]


def test_the_tree_of_any_depth_comes_in_a_fixed_number_of_queries(rep, group):
    with assert_max_queries(3):
        tree = account_hierarchy(user=rep, account=group["holding"])
    assert _names(tree.root.children) == [
        ("Acme", [("Acme Labs", [("Acme Labs EU", [])])]),
        ("Beta", []),
    ]
    assert sorted(tree.subtree_ids) == sorted(a.pk for a in group.values())
    below = account_hierarchy(user=rep, account=group["eu"])
    assert [node.name for node in below.ancestors] == ["Holding", "Acme", "Acme Labs"]


def test_accounts_the_user_cannot_see_keep_their_place_without_a_name(rep, other_rep, group):
    from patron.core.sharing import share_grant

    # The other rep may attach a subsidiary only under a parent shared with them.
    share_grant(user=rep, record=group["beta"], grantee_user=other_rep)
    account_create(user=other_rep, name="Secret Sub", parent=group["beta"])
    tree = account_hierarchy(user=rep, account=group["beta"])
    assert [(n.visible, n.name) for n in tree.root.children] == [(False, "Secret Sub")]
    html = _client(rep).get(f"/accounts/{group['beta'].pk}/").content.decode()
    assert "An account you cannot see" in html
    assert "Secret Sub" not in html


def test_rollups_count_the_account_and_its_whole_subtree(rep, group):
    figures = {
        f.key: (f.account, f.subtree)
        for f in rollups.rollup_figures(
            account_id=group["acme"].pk,
            subtree_ids=account_hierarchy(user=rep, account=group["acme"]).subtree_ids,
        )
    }
    assert figures["contacts"] == (1, 4)
    assert figures["child_accounts"] == (1, 2)


def test_later_apps_register_their_own_rollups(rep, group, monkeypatch):
    monkeypatch.setattr(rollups, "_rollups", dict(rollups._rollups))
    rollups.register_rollup(
        "people_at_subsidiaries",
        "People at subsidiaries",
        lambda ids: Contact.objects.filter(account_id__in=ids).exclude(account=group["holding"]),
    )
    response = _client(rep).get(f"/accounts/{group['holding'].pk}/")
    html = response.content.decode()
    assert "People at subsidiaries" in html
    assert '<td class="num">0</td><td class="num">4</td>' in html


def test_a_deep_chain_still_refuses_a_cycle(rep):
    chain = [account_create(user=rep, name="Level 0")]
    for level in range(1, 30):
        chain.append(account_create(user=rep, name=f"Level {level}", parent=chain[-1]))
    with pytest.raises(ValidationFailed) as error:
        account_update(user=rep, account=chain[0], parent=chain[-1])
    assert "parent" in error.value.errors
    tree = account_hierarchy(user=rep, account=chain[0])
    assert len(tree.subtree_ids) == 30


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_account_page_shows_breadcrumb_tree_and_rollups_with_bounded_queries(rep, group):
    client = _client(rep)
    client.get(f"/accounts/{group['acme'].pk}/")
    with assert_max_queries(36) as few:
        client.get(f"/accounts/{group['acme'].pk}/")
    for index in range(6):
        account_create(user=rep, name=f"Extra {index}", parent=group["labs"])
    with assert_max_queries(len(few.captured_queries)):
        html = client.get(f"/accounts/{group['acme'].pk}/").content.decode()
    assert 'aria-label="Parent accounts"' in html
    assert f'href="/accounts/{group["eu"].pk}/"' in html
    assert "Extra 5" in html
    assert "Roll-ups" in html


def test_hierarchy_api(rep, group):
    api = Client()
    api.defaults.update({"HTTP_AUTHORIZATION": bearer(rep)["Authorization"]})
    with assert_max_queries(15):
        response = api.get(f"/api/v1/accounts/{group['acme'].pk}/hierarchy")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [a["name"] for a in body["ancestors"]] == ["Holding"]
    assert [(d["name"], d["depth"]) for d in body["descendants"]] == [
        ("Acme", 0),
        ("Acme Labs", 1),
        ("Acme Labs EU", 2),
    ]
    rolled = {r["key"]: (r["account"], r["subtree"]) for r in body["rollups"]}
    assert rolled["contacts"] == (1, 4)
    assert api.get("/api/v1/accounts/999999/hierarchy").status_code == 404
