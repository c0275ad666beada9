"""Reads of saved import mappings, shared by the mappings page and the API."""

from __future__ import annotations

from django.db.models import QuerySet

from patron.core.importing import import_specs
from patron.core.visibility import Principal
from patron.data_exchange.models import ImportMapping


def importable_mappings(user: Principal) -> QuerySet[ImportMapping]:
    """The saved mappings of the object types ``user`` may import."""
    allowed = [spec.object_type for spec in import_specs() if spec.may_import(user)]
    return ImportMapping.objects.filter(object_type__in=allowed)
