"""Won opportunities' line items as purchases in the account's purchase history (the
contacts registry; contacts never imports orders)."""

from __future__ import annotations

from patron.contacts.models import Account
from patron.contacts.purchase_history import PurchaseRow, PurchaseSource, register_purchase_source
from patron.core.record_pages import record_detail_url
from patron.core.visibility import Principal
from patron.orders.models import OpportunityLineItem
from patron.pipeline.models import Opportunity


def won_line_items(user: Principal, account: Account, limit: int) -> list[PurchaseRow]:
    """The account's won deals' lines the user may see (through the deal), newest first."""
    won = Opportunity.objects.visible_to(user).filter(
        account=account, is_won=True, closed_on__isnull=False
    )
    lines = (
        OpportunityLineItem.objects.filter(opportunity__in=won.values("pk"))
        .select_related("product", "opportunity")
        .only(
            "id",
            "description",
            "quantity",
            "line_total",
            "product__name",
            "opportunity__id",
            "opportunity__closed_on",
            "opportunity__close_date",
            "opportunity__currency",
        )
        .order_by("-opportunity__closed_on", "-opportunity_id", "position", "id")[:limit]
    )
    rows = []
    for line in lines:
        deal = line.opportunity
        rows.append(
            PurchaseRow(
                date=deal.closed_on or deal.close_date,
                description=line.product.name if line.product else line.description,
                quantity=line.quantity,
                amount=line.line_total,
                currency=deal.currency,
                url=record_detail_url(Opportunity.object_type(), deal.pk) or "",
            )
        )
    return rows


def register_purchase_history() -> None:
    register_purchase_source(
        PurchaseSource(key="orders.won_deals", label="Won deals", rows=won_line_items)
    )
