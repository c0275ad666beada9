"""Custom fields are merge fields: each is a row of the merge page and a choice of the API
merge; sensitive ones hidden from the user are neither shown nor choosable."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import TestCase

from patron.contacts.models import Contact
from patron.core.choices import CustomFieldType, FieldAccess
from patron.core.exceptions import ValidationFailed
from patron.core.models import ChangeLogEntry, CustomFieldDefinition, FieldPermission
from patron.core.testing import grant
from patron.data_exchange.merge_services import merge_records
from patron.data_exchange.models import MergeRecord
from patron.users.models import User
from patron.users.services import token_create
from patron.users.tests.factories import UserFactory, make_role

MERGE_URL = "/api/v1/data/duplicates/merge"


class CustomFieldMergeTests(TestCase):
    user: Any
    keep: Contact
    gone: Contact

    @classmethod
    def setUpTestData(cls) -> None:
        role = make_role("Merger")
        grant(role, "contacts.contact", "create", "read", "update", "delete")
        for key, label, sensitive in (
            ("tier", "Loyalty tier", False),
            ("region", "Sales region", False),
            ("salary", "Salary band", True),
        ):
            CustomFieldDefinition.objects.create(
                object_type="contacts.contact",
                key=key,
                label=label,
                field_type=CustomFieldType.TEXT,
                sensitive=sensitive,
            )
        cls.user = UserFactory(role=role, email="merger@example.com", full_name="Mo Merger")
        cls.keep = Contact.objects.create(
            owner=cls.user, first_name="Ann", last_name="Lee", custom={"tier": "gold"}
        )
        cls.gone = Contact.objects.create(
            owner=cls.user,
            first_name="Anne",
            last_name="Lee",
            birthdate="1980-02-03",
            custom={"tier": "silver", "region": "North", "salary": "band-9"},
        )

    def merger(self) -> User:
        # A fresh instance: the access profile is read once per user object.
        return User.objects.get(pk=self.user.pk)

    def merge_page(self) -> str:
        self.client.force_login(self.user)
        url = f"/data/duplicates/merge/?object=contacts.contact&ids={self.keep.pk},{self.gone.pk}"
        response = self.client.get(url)
        assert response.status_code == 200
        return response.content.decode()

    def api(self) -> Any:
        _, secret = token_create(user=self.user, name="t", scopes=["data:write"])
        return self.client_class(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def test_merge_keeps_chosen_custom_value_and_logs_it_on_the_merge(self) -> None:
        merge = merge_records(
            user=self.merger(),
            object_type="contacts.contact",
            survivor_id=self.keep.pk,
            merged_ids=[self.gone.pk],
            field_choices={"custom.tier": self.gone.pk},
        )
        self.keep.refresh_from_db()
        assert self.keep.custom["tier"] == "silver"
        # Empty on the survivor: the merged record's value is kept by default.
        assert self.keep.custom["region"] == "North"
        assert MergeRecord.objects.get(pk=merge.pk).field_choices["custom.tier"] == self.gone.pk
        entry = ChangeLogEntry.objects.get(
            content_type=ContentType.objects.get_for_model(Contact),
            object_id=self.keep.pk,
            action="merge",
        )
        assert entry.changes["custom.tier"] == ["gold", "silver"]
        assert entry.changes["custom.region"] == [None, "North"]

    def test_merge_page_shows_custom_rows_with_the_survivors_value_chosen(self) -> None:
        html = self.merge_page()
        assert "Loyalty tier" in html
        assert f'name="field_custom.tier" value="{self.keep.pk}" checked' in html
        assert f'name="field_custom.region" value="{self.gone.pk}" checked' in html

    def test_merge_page_keeps_the_chosen_custom_value(self) -> None:
        self.client.force_login(self.user)
        response = self.client.post(
            "/data/duplicates/merge/",
            {
                "object": "contacts.contact",
                "ids": f"{self.keep.pk},{self.gone.pk}",
                "confirm": "1",
                "field_custom.tier": str(self.gone.pk),
                "field_custom.region": str(self.keep.pk),
            },
        )
        assert response.status_code == 302
        self.keep.refresh_from_db()
        assert self.keep.custom == {"tier": "silver"}

    def test_hidden_sensitive_custom_field_not_shown_and_kept_from_the_survivor(self) -> None:
        html = self.merge_page()
        assert "Salary band" not in html
        assert "band-9" not in html
        assert "field_custom.salary" not in html
        # Sensitive model fields hidden from the user are left out the same way.
        assert "field_birthdate" not in html
        with pytest.raises(ValidationFailed) as refused:
            merge_records(
                user=self.merger(),
                object_type="contacts.contact",
                survivor_id=self.keep.pk,
                merged_ids=[self.gone.pk],
                field_choices={"custom.salary": self.gone.pk},
            )
        assert refused.value.errors == {
            "custom.salary": ["Contacts have no custom field 'salary'."]
        }
        merge_records(
            user=self.merger(),
            object_type="contacts.contact",
            survivor_id=self.keep.pk,
            merged_ids=[self.gone.pk],
        )
        self.keep.refresh_from_db()
        assert "salary" not in self.keep.custom
        assert self.keep.birthdate is None

    def test_read_only_sensitive_custom_field_is_shown_but_not_choosable(self) -> None:
        FieldPermission.objects.create(
            role=self.user.role,
            object_type="contacts.contact",
            field="custom.salary",
            access=FieldAccess.READ_ONLY,
        )
        html = self.merge_page()
        assert "Salary band" in html
        assert "band-9" in html
        assert "field_custom.salary" not in html
        with pytest.raises(ValidationFailed) as refused:
            merge_records(
                user=self.merger(),
                object_type="contacts.contact",
                survivor_id=self.keep.pk,
                merged_ids=[self.gone.pk],
                field_choices={"custom.salary": self.gone.pk},
            )
        assert "custom.salary" in refused.value.errors

    def test_api_merge_with_custom_field_choice(self) -> None:
        response = self.api().post(
            MERGE_URL,
            json.dumps(
                {
                    "object_type": "contacts.contact",
                    "survivor_id": self.keep.pk,
                    "merged_ids": [self.gone.pk],
                    "field_choices": {"custom.tier": self.gone.pk, "first_name": self.gone.pk},
                }
            ),
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        assert response.json()["field_choices"]["custom.tier"] == self.gone.pk
        self.keep.refresh_from_db()
        assert (self.keep.first_name, self.keep.custom["tier"]) == ("Anne", "silver")

    def test_api_merge_refuses_unknown_custom_key_with_422_and_merges_nothing(self) -> None:
        response = self.api().post(
            MERGE_URL,
            json.dumps(
                {
                    "object_type": "contacts.contact",
                    "survivor_id": self.keep.pk,
                    "merged_ids": [self.gone.pk],
                    "field_choices": {"custom.shoe_size": self.gone.pk},
                }
            ),
            content_type="application/json",
        )
        assert response.status_code == 422
        assert response["Content-Type"].startswith("application/problem+json")
        assert response.json()["errors"] == {
            "custom.shoe_size": ["Contacts have no custom field 'shoe_size'."]
        }
        assert Contact.objects.filter(pk=self.gone.pk).exists()
        assert not MergeRecord.objects.exists()
