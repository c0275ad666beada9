"""Reads for the duplicates view and API: candidate groups the user may see, with members."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import QuerySet

from patron.data_exchange.choices import DuplicateGroupStatus
from patron.data_exchange.duplicate_matching import duplicate_object
from patron.data_exchange.models import DuplicateGroup, DuplicateGroupMember

# Sort keys of the candidate groups, shared by the page, its CSV and the API; each ends with
# the id so keyset pages never skip or repeat a group.
GROUP_SORTS: dict[str, tuple[str, ...]] = {
    "similarity": ("-similarity", "-id"),
    "found": ("-found_at", "-id"),
    "object": ("object_type", "-similarity", "-id"),
}
DEFAULT_GROUP_SORT = "similarity"


def group_queryset(
    *, object_type: str = "", status: str = DuplicateGroupStatus.OPEN, q: str = ""
) -> QuerySet[DuplicateGroup]:
    queryset = DuplicateGroup.objects.select_related("rule")
    if object_type:
        spec = duplicate_object(object_type)
        queryset = queryset.filter(object_type=spec.object_type if spec else object_type)
    if status:
        queryset = queryset.filter(status=status)
    if q:
        queryset = queryset.filter(match_key__icontains=q)
    return queryset


def with_members(user: Any, groups: list[DuplicateGroup]) -> list[dict[str, Any]]:
    """Each group with its member records; groups holding a record ``user`` may not see are
    left out. One member query plus one record query per object type, whatever the count."""
    members: dict[int, list[int]] = defaultdict(list)
    for row in DuplicateGroupMember.objects.filter(group__in=groups).order_by("object_id"):
        members[row.group_id].append(row.object_id)
    by_type: dict[str, set[int]] = defaultdict(set)
    for group in groups:
        by_type[group.object_type].update(members[group.pk])
    records: dict[tuple[str, int], Any] = {}
    for object_type, ids in by_type.items():
        spec = duplicate_object(object_type)
        if spec is None:
            continue
        visible = spec.model.objects.visible_to(user).filter(pk__in=ids)  # type: ignore[attr-defined]
        for record in visible:
            records[(object_type, record.pk)] = record
    result = []
    for group in groups:
        member_ids = members[group.pk]
        found = [records.get((group.object_type, pk)) for pk in member_ids]
        if not member_ids or any(r is None for r in found):
            continue
        result.append({"group": group, "records": found, "ids": member_ids})
    return result
