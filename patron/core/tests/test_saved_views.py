from __future__ import annotations

import pytest

from patron.core.exceptions import ValidationFailed
from patron.core.saved_views import saved_view_delete, saved_view_save

pytestmark = pytest.mark.django_db


def test_saving_the_same_name_again_overwrites_the_view(rep):
    first = saved_view_save(
        user=rep, object_type="contacts.account", name="Mine", query="owner=1", columns=["name"]
    )
    second = saved_view_save(
        user=rep, object_type="contacts.account", name=" Mine ", query="tier=key", columns=[]
    )
    assert first.pk == second.pk
    second.refresh_from_db()
    assert second.query == "tier=key"


def test_a_blank_name_or_oversized_query_is_refused_naming_the_field(rep):
    with pytest.raises(ValidationFailed) as excinfo:
        saved_view_save(
            user=rep, object_type="contacts.account", name="", query="x" * 2001, columns=[]
        )
    assert set(excinfo.value.errors) == {"name", "query"}


def test_only_the_owner_deletes_a_view(rep, other_rep):
    view = saved_view_save(
        user=rep, object_type="contacts.account", name="Mine", query="", columns=[]
    )
    assert not saved_view_delete(user=other_rep, object_type="contacts.account", pk=view.pk)
    assert saved_view_delete(user=rep, object_type="contacts.account", pk=view.pk)
