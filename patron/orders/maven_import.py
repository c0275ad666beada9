"""Import the Maven Analytics CRM sample's sales history (``patron demo --sales``).

On top of the demo companies, users and regional teams (``contacts.demo``), this loads the
sample's products and its 8,800 opportunities into a pipeline "Sales (Maven sample)" with the
stages Prospecting, Engaging, Won and Lost, so sales analytics has real figures to show.

The sample's quirks and how they are handled:

- The product "GTX Pro" is also spelt "GTXPro" in the opportunities; both are one product.
- About 1,400 opportunities have no account; they are kept without one (imported deals may).
- The sector "technolgy" is corrected by the accounts loader (``contacts.demo``).
- Open deals have no close date or value: their amount stays empty and their expected close
  date is ``OPEN_DEAL_CLOSE`` (the quarter after the sample ends).

Opportunities, their stage history (a first row when the deal was engaged, or created for
prospects, and a closing row for won and lost deals) and one line item each are written with
bulk inserts whose derived columns (closed flags, close date, org-currency amount,
probability, forecast category) are those the opportunity services would set. Each keeps
the sample's ``opportunity_id`` as ``external_id``, so loading again adds nothing.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from patron.contacts.demo import DATA_DIR, DEMO_EMAIL_DOMAIN, demo_load
from patron.contacts.models import Account
from patron.core import search
from patron.core.choices import Via
from patron.core.currency import CENT, rate_on, to_org_currency
from patron.orders.models import OpportunityLineItem, Product
from patron.orders.services import product_create
from patron.pipeline.choices import ForecastCategory
from patron.pipeline.models import Opportunity, Pipeline, Stage, StageHistory
from patron.users.models import Team, User

PIPELINE_NAME = "Sales (Maven sample)"
STAGES = (
    ("Prospecting", 10, ForecastCategory.PIPELINE),
    ("Engaging", 50, ForecastCategory.BEST_CASE),
    ("Won", 100, ForecastCategory.CLOSED_WON),
    ("Lost", 0, ForecastCategory.CLOSED_LOST),
)
# The opportunities spell one product two ways; the products file has "GTX Pro".
PRODUCT_SPELLINGS = {"GTXPro": "GTX Pro"}
OPEN_DEAL_CLOSE = datetime.date(2018, 3, 31)
CURRENCY = "USD"
BATCH = 1000


@dataclass(frozen=True)
class SalesSummary:
    products: int
    opportunities_added: int
    opportunities: int

    def __str__(self) -> str:
        return (
            f"{self.products} products, {self.opportunities} opportunities "
            f"({self.opportunities_added} added)"
        )


def read_csv(name: str, data_dir: Path = DATA_DIR) -> list[dict[str, str]]:
    with (data_dir / name).open(newline="", encoding="utf-8") as handle:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def product_name(spelling: str) -> str:
    return PRODUCT_SPELLINGS.get(spelling, spelling)


def _sku(name: str) -> str:
    return "MAVEN-" + "-".join(name.upper().split())


def _products(actor: User) -> dict[str, tuple[Product, Decimal]]:
    """The sample's products by name, with their list price (created once)."""
    rows = read_csv("products.csv")
    existing = {
        p.sku: p for p in Product.all_objects.filter(sku__in=[_sku(r["product"]) for r in rows])
    }
    products = {}
    for row in rows:
        name = product_name(row["product"])
        product = existing.get(_sku(name)) or product_create(
            user=actor, via=Via.IMPORT, sku=_sku(name), name=name, family=row["series"]
        )
        products[name] = (product, Decimal(row["sales_price"]))
    return products


def _pipeline() -> dict[str, Stage]:
    pipeline = Pipeline.objects.filter(name=PIPELINE_NAME).first()
    if pipeline is None:
        pipeline = Pipeline.objects.create(
            name=PIPELINE_NAME,
            description="The Maven Analytics CRM sample's sales process.",
            is_default=not Pipeline.objects.filter(is_default=True).exists(),
        )
    stages = {stage.name: stage for stage in pipeline.stages.all()}
    for position, (name, probability, category) in enumerate(STAGES):
        if name not in stages:
            stages[name] = Stage.objects.create(
                pipeline=pipeline,
                name=name,
                position=position,
                probability=probability,
                forecast_category=category,
            )
    return stages


def _converter() -> Callable[[Decimal | None, datetime.date], Decimal | None]:
    """``to_org_currency`` for USD, asking for the rate once per close date."""
    rates: dict[datetime.date, Decimal] = {}

    def convert(amount: Decimal | None, on: datetime.date) -> Decimal | None:
        if amount is None:
            return None
        if on not in rates:
            rate = rate_on(CURRENCY, on)
            if rate is None:
                # Raises the usual "no exchange rate" error, naming what to add.
                return to_org_currency(amount, CURRENCY, on)
            rates[on] = rate
        return (amount * rates[on]).quantize(CENT)

    return convert


def _moment(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)


def _date(text: str) -> datetime.date | None:
    return datetime.date.fromisoformat(text) if text else None


def _opportunity(
    row: dict[str, str],
    *,
    stage: Stage,
    owner: User,
    account: Account | None,
    team: Team | None,
    actor: User,
    now: datetime.datetime,
    amount_org: Callable[[Decimal | None, datetime.date], Decimal | None],
) -> Opportunity:
    engaged = _date(row["engage_date"])
    closed = _date(row["close_date"]) if stage.is_closed else None
    amount = Decimal(row["close_value"]) if row["close_value"] else None
    close_date = closed or OPEN_DEAL_CLOSE
    started = _moment(engaged) if engaged else now
    return Opportunity(
        name=f"{product_name(row['product'])} for {row['account'] or 'an unnamed prospect'}",
        account=account,
        pipeline_id=stage.pipeline_id,
        stage=stage,
        amount=amount,
        currency=CURRENCY,
        amount_org=amount_org(amount, close_date),
        close_date=close_date,
        probability=stage.probability if not stage.is_closed else (100 if stage.is_won else 0),
        forecast_category=stage.forecast_category,
        engaged_on=engaged,
        is_closed=stage.is_closed,
        is_won=stage.is_won,
        closed_on=closed,
        stage_entered_at=_moment(closed) if closed else started,
        external_id=row["opportunity_id"],
        owner=owner,
        team=team,
        created_by=actor,
        created_at=started,
    )


def _history(opportunity: Opportunity, stages: dict[str, Stage], actor: User) -> list[StageHistory]:
    """The first row (engaged, or created for prospects) and, for closed deals, the close."""
    first = stages["Prospecting"] if opportunity.engaged_on is None else stages["Engaging"]
    started = opportunity.created_at
    rows = [
        StageHistory(
            opportunity=opportunity,
            from_stage=None,
            to_stage=first,
            changed_by=actor,
            changed_at=started,
            amount=opportunity.amount,
            currency=opportunity.currency,
            probability=first.probability,
            forecast_category=first.forecast_category,
            close_date=opportunity.close_date,
        )
    ]
    if opportunity.is_closed:
        closed_at = opportunity.stage_entered_at
        rows.append(
            StageHistory(
                opportunity=opportunity,
                from_stage=first,
                to_stage=opportunity.stage,
                changed_by=actor,
                changed_at=closed_at,
                amount=opportunity.amount,
                currency=opportunity.currency,
                probability=opportunity.probability,
                forecast_category=opportunity.forecast_category,
                close_date=opportunity.close_date,
                seconds_in_from_stage=max(0, int((closed_at - started).total_seconds())),
            )
        )
    return rows


def maven_sales_load() -> SalesSummary:
    """Load the sample's products and opportunities; those already loaded are kept."""
    demo_load()
    with transaction.atomic():
        actor = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
        if actor is None:
            raise RuntimeError("demo_load() creates the administrator first")
        products = _products(actor)
        stages = _pipeline()
        rows = read_csv("sales_pipeline.csv")
        users = {
            user.full_name: user
            for user in User.objects.filter(
                email__endswith=f"@{DEMO_EMAIL_DOMAIN}"
            ).prefetch_related("teams")
        }
        teams = {user.pk: next(iter(user.teams.all()), None) for user in users.values()}
        accounts = {
            a.name: a
            for a in Account.all_objects.filter(
                name__in={r["account"] for r in rows if r["account"]}
            )
        }
        known = set(
            Opportunity.all_objects.filter(
                external_id__in=[r["opportunity_id"] for r in rows]
            ).values_list("external_id", flat=True)
        )
        now = timezone.now()
        convert = _converter()
        added = 0
        for start in range(0, len(rows), BATCH):
            batch = [r for r in rows[start : start + BATCH] if r["opportunity_id"] not in known]
            if not batch:
                continue
            opportunities = Opportunity.objects.bulk_create(
                [
                    _opportunity(
                        row,
                        stage=stages[row["deal_stage"]],
                        owner=users[row["sales_agent"]],
                        account=accounts.get(row["account"]),
                        team=teams[users[row["sales_agent"]].pk],
                        actor=actor,
                        now=now,
                        amount_org=convert,
                    )
                    for row in batch
                ]
            )
            StageHistory.objects.bulk_create(
                [h for o in opportunities for h in _history(o, stages, actor)]
            )
            OpportunityLineItem.objects.bulk_create(
                [
                    _line_item(opportunity, row, products)
                    for opportunity, row in zip(opportunities, batch, strict=True)
                ]
            )
            # Bulk inserts skip the services, so global search learns of them here.
            search.index_records(
                Opportunity.objects.filter(pk__in=[o.pk for o in opportunities]).select_related(
                    "account", "stage"
                )
            )
            added += len(opportunities)
        return SalesSummary(
            products=len(products),
            opportunities_added=added,
            opportunities=Opportunity.all_objects.filter(
                pipeline=stages["Won"].pipeline_id
            ).count(),
        )


def _line_item(
    opportunity: Opportunity, row: dict[str, str], products: dict[str, tuple[Product, Decimal]]
) -> OpportunityLineItem:
    # A won deal's value; lost deals (value 0) and open ones carry the product's list price.
    product, list_price = products[product_name(row["product"])]
    price = opportunity.amount if opportunity.is_won and opportunity.amount else list_price
    return OpportunityLineItem(
        opportunity=opportunity,
        product=product,
        description=product.name,
        quantity=Decimal("1"),
        unit_price=price,
        line_total=price,
        position=0,
    )
