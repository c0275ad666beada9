"""Quote discount approval on the approval engine (orders' quote approval backend).

The "Quote discount" process exists from the start (the approval-process lists seed it, and
a first submission creates it if nobody opened them): entry = the highest line discount is
above the quote policy's threshold (kept in step with the policy at each submission), one
step = the submitter's manager, first response decides. An administrator may add steps (a
director above 40 %, say) on the approval processes page; the quote keeps its own statuses:
the engine's outcome sets "approved" / "rejected", a recall puts the quote back to draft.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from patron.automation import approval_services as approvals
from patron.automation.choices import (
    ApprovalStatus,
    ApprovalTaskStatus,
    ApproverKind,
    DecisionMode,
)
from patron.automation.models import ApprovalProcess, ApprovalRequest, ApprovalStep, ApprovalTask
from patron.core.choices import Via
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import BusinessRecord
from patron.orders import quote_services
from patron.orders.choices import QuoteStatus
from patron.orders.models import Quote
from patron.orders.quote_approval import register_quote_approval_backend
from patron.users.models import User

PROCESS_NAME = "Quote discount"
DISCOUNT_FIELD = "max_discount_percent"


def _entry(threshold: Decimal) -> dict[str, Any]:
    return {"field": DISCOUNT_FIELD, "op": "gt", "value": str(threshold)}


def quote_discount_process() -> ApprovalProcess:
    """The seeded process, created on first use and its threshold kept to the policy's."""
    threshold = quote_services.quote_policy().approval_discount_percent
    with transaction.atomic():
        process, created = ApprovalProcess.objects.get_or_create(
            name=PROCESS_NAME,
            defaults={
                "object_type": Quote.object_type(),
                "description": "Quotes discounted above the quote policy's threshold need the "
                "submitter's manager's approval before they are sent.",
                "entry_conditions": _entry(threshold),
                "lock_record": True,
                "allow_recall": True,
            },
        )
        if created:
            ApprovalStep.objects.create(
                process=process,
                position=0,
                name="Manager",
                approver_kind=ApproverKind.MANAGER,
                decision_mode=DecisionMode.FIRST,
            )
            approvals.invalidate_process_types()
        elif _is_threshold_entry(process.entry_conditions) and process.entry_conditions != _entry(
            threshold
        ):
            process.entry_conditions = _entry(threshold)
            process.save(update_fields=["entry_conditions"])
    return process


def _is_threshold_entry(tree: Any) -> bool:
    return isinstance(tree, dict) and tree.get("field") == DISCOUNT_FIELD and tree.get("op") == "gt"


def _pending(quote: Quote) -> ApprovalRequest | None:
    return approvals.pending_request_for(quote)


class EngineQuoteApproval:
    """orders.quote_approval's backend: a request of the "Quote discount" process."""

    def submit(self, *, user: Any, quote: Quote, via: str) -> None:
        approvals.approval_submit(user=user, record=quote, process=quote_discount_process())

    def decide(self, *, user: Any, quote: Quote, approve: bool, note: str, via: str) -> None:
        request = _pending(quote)
        task = (
            ApprovalTask.objects.filter(
                request=request, approver_id=user.pk, status=ApprovalTaskStatus.PENDING
            ).first()
            if request is not None
            else None
        )
        if task is None:
            raise PermissionDenied(
                "Only an approver of this quote's approval request (by default the owner's "
                "manager) may approve or reject it."
            )
        approvals.approval_decide(user=user, task=task, approve=approve, comment=note)

    def approvers(self, quote: Quote) -> list[User]:
        request = _pending(quote)
        if request is None:
            return []
        return list(
            User.objects.filter(
                pk__in=request.tasks.filter(status=ApprovalTaskStatus.PENDING).values("approver_id")
            ).order_by("full_name", "id")
        )


def _on_outcome(request: ApprovalRequest, status: str, actor: Any, comment: str) -> None:
    quote = Quote.objects.filter(pk=request.object_id).first()
    if quote is None or quote.status != QuoteStatus.PENDING_APPROVAL:
        return
    if status == ApprovalStatus.RECALLED:
        quote_services.quote_record_recall(quote=quote, actor=actor, via=Via.WORKFLOW)
        return
    quote_services.quote_record_decision(
        quote=quote,
        approve=status == ApprovalStatus.APPROVED,
        approver=actor,
        note=comment,
        via=Via.WORKFLOW if actor is None else Via.UI,
    )


def _submit(
    user: Any, record: BusinessRecord, process: ApprovalProcess | None, comment: str
) -> ApprovalRequest:
    if not isinstance(record, Quote):
        return approvals.approval_submit(user=user, record=record, process=process, comment=comment)
    quote = quote_services.quote_submit_for_approval(user=user, quote=record)
    request = _pending(quote)
    if request is None:
        raise ValidationFailed("The quote was not submitted for approval.")
    return request


def register_quote_approval() -> None:
    register_quote_approval_backend(EngineQuoteApproval())
    approvals.register_seeded_process(PROCESS_NAME, Quote.object_type(), quote_discount_process)
    approvals.register_approval_hooks(
        Quote.object_type(), approvals.ApprovalHooks(on_outcome=_on_outcome, submit=_submit)
    )
