"""Leads on the 360° timeline.

A lead's timeline covers the lead and, once converted, the contact it became (its
activities were moved there, so the lead's page still shows them). The ``lead_history``
source shows the change history of converted leads on the contact and account they
became, so their history moves with them.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q

from patron.contacts.models import Account, Contact
from patron.core.models import BusinessRecord, ChangeLogEntry
from patron.core.record_pages import record_detail_url
from patron.core.timeline import (
    Before,
    Target,
    TimelineEntry,
    TimelineKind,
    TimelineSource,
    register_timeline_scope,
    register_timeline_source,
)
from patron.core.visibility import Principal
from patron.leads.models import Lead

SOURCE_KEY = "lead_history"
HISTORY_KIND = TimelineKind("lead_history", "Lead history", "sales", "◇")
_ACTION_WORDS = {
    "create": "created the lead",
    "update": "changed the lead",
    "delete": "deleted the lead",
    "restore": "restored the lead",
}


def lead_scope(user: Principal, record: BusinessRecord) -> list[Target]:
    assert isinstance(record, Lead)
    targets = [Target(Lead.object_type(), [record.pk])]
    if record.converted_contact_id:
        visible = Contact.objects.visible_to(user).filter(pk=record.converted_contact_id)
        ids = list(visible.values_list("pk", flat=True))
        if ids:
            targets.append(Target(Contact.object_type(), ids))
    return targets


def _converted_leads(targets: list[Target]) -> Any:
    condition = Q(pk__in=[])
    lead_ids: list[Any] = []
    for target in targets:
        if target.object_type == Contact.object_type():
            condition |= Q(converted_contact_id__in=target.ids)
        elif target.object_type == Account.object_type():
            condition |= Q(converted_account_id__in=target.ids)
        elif target.object_type == Lead.object_type():
            lead_ids.append(target.ids)
    leads = Lead.all_objects.filter(condition)
    for ids in lead_ids:
        # The lead's own timeline shows its changes through the change-log source.
        leads = leads.exclude(pk__in=ids)
    return leads.values("pk")


def lead_history_fetch(
    user: Principal,
    targets: list[Target],
    before: Before | None,
    limit: int,
    kinds: frozenset[str],
) -> list[TimelineEntry]:
    wanted = {t.object_type for t in targets}
    if not wanted & {Contact.object_type(), Account.object_type()}:
        return []
    content_type = ContentType.objects.get_for_model(Lead)
    rows = ChangeLogEntry.objects.filter(
        content_type=content_type, object_id__in=_converted_leads(targets)
    )
    if before is not None:
        rows = rows.filter(before.q("at", "id"))
    page = list(rows.select_related("actor").order_by("-at", "-id")[:limit])
    names = {
        lead.pk: str(lead)
        for lead in Lead.all_objects.filter(pk__in={row.object_id for row in page}).only(
            "pk", "first_name", "last_name", "company"
        )
    }
    entries = []
    for row in page:
        actor = str(row.actor) if row.actor is not None else "System"
        name = names.get(row.object_id, f"#{row.object_id}")
        verb = _ACTION_WORDS.get(row.action, row.action)
        summary = ""
        if row.action == "update" and isinstance(row.changes, dict):
            summary = "Changed " + ", ".join(list(row.changes)[:5]).replace("_", " ")
        entries.append(
            TimelineEntry(
                at=row.at,
                kind=HISTORY_KIND.key,
                department=HISTORY_KIND.department,
                title=f"{actor} {verb} {name}",
                summary=summary,
                url=record_detail_url(Lead.object_type(), row.object_id),
                actor=actor,
                source=SOURCE_KEY,
                id=row.pk,
                icon=HISTORY_KIND.icon,
                badge=HISTORY_KIND.label,
            )
        )
    return entries


def register_lead_timeline() -> None:
    register_timeline_scope(Lead.object_type(), lead_scope)
    register_timeline_source(TimelineSource(SOURCE_KEY, (HISTORY_KIND,), lead_history_fetch))
