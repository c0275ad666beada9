"""Forecasts and quotas rolled up by territory (SPEC 3.3, 4.2).

An opportunity counts for the territory its account is assigned to in the active territory
model; a parent territory's figures are its own plus everything below it. Figures use the
same categories and periods as ``forecasts`` and cover only the deals the viewer may see,
in one grouped query however many territories there are. A territory's quota is its own
for the period (pro rata by days, in the organisation's currency); a parent without one
rolls up its children's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import BigIntegerField, OuterRef, Q, Subquery

from patron.contacts.models import Account
from patron.core.currency import CENT, rate_on
from patron.core.org import org_settings
from patron.pipeline.choices import ForecastCategory
from patron.pipeline.forecasts import FIGURES, ZERO, Period, _amount, _in_period, _ratio
from patron.pipeline.models import Opportunity
from patron.territories.choices import ModelState
from patron.territories.models import (
    Territory,
    TerritoryAssignment,
    TerritoryModel,
    TerritoryQuota,
)
from patron.territories.selectors import territory_tree
from patron.users.models import User


def _zero() -> dict[str, Decimal]:
    return dict.fromkeys(FIGURES, ZERO)


@dataclass
class TerritoryRow:
    territory: Territory
    own: dict[str, Decimal] = field(default_factory=_zero)
    rolled: dict[str, Decimal] = field(default_factory=_zero)
    quota: Decimal | None = None
    rolled_quota: Decimal | None = None

    @property
    def depth(self) -> int:
        return self.territory.depth

    @property
    def attainment(self) -> Decimal | None:
        return _ratio(self.rolled["closed"], self.rolled_quota)


@dataclass
class TerritoryForecast:
    period: Period
    model: TerritoryModel | None
    currency: str
    rows: list[TerritoryRow]
    unassigned: dict[str, Decimal]
    total: dict[str, Decimal]
    total_quota: Decimal | None

    @property
    def total_attainment(self) -> Decimal | None:
        return _ratio(self.total["closed"], self.total_quota)


def _figures_by_territory(
    viewer: User, period: Period, model: TerritoryModel | None
) -> dict[int | None, dict[str, Decimal]]:
    """Each territory's own figures (None: deals whose account has no territory), grouped by
    the account's assignment in one query over the deals the viewer sees."""
    won = Q(is_won=True, closed_on__gte=period.start, closed_on__lte=period.end)
    open_in_period = Q(is_closed=False) & _in_period(period)
    assignment = TerritoryAssignment.objects.filter(
        model_id=model.pk if model else 0,
        content_type=ContentType.objects.get_for_model(Account),
        object_id=OuterRef("account_id"),
    ).values("territory_id")[:1]
    rows = (
        Opportunity.objects.visible_to(viewer)
        .filter(open_in_period | won)
        .annotate(territory_id=Subquery(assignment, output_field=BigIntegerField()))
        .values("territory_id")
        .annotate(
            closed=_amount(won),
            commit=_amount(open_in_period & Q(forecast_category=ForecastCategory.COMMIT)),
            best_case=_amount(
                open_in_period
                & Q(forecast_category__in=[ForecastCategory.COMMIT, ForecastCategory.BEST_CASE])
            ),
            pipeline=_amount(open_in_period & ~Q(forecast_category=ForecastCategory.OMITTED)),
        )
        .order_by()
    )
    return {
        row["territory_id"]: {name: Decimal(row[name]).quantize(CENT) for name in FIGURES}
        for row in rows
    }


def _quotas(period: Period, territory_ids: Iterable[int]) -> dict[int, Decimal]:
    """Quotas overlapping the period, pro rata by days, in the organisation's currency."""
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    rates: dict[tuple[str, object], Decimal | None] = {}
    for quota in TerritoryQuota.objects.filter(
        territory_id__in=list(territory_ids),
        period_start__lte=period.end,
        period_end__gte=period.start,
    ):
        key = (quota.currency, quota.period_start)
        if key not in rates:
            rates[key] = rate_on(quota.currency, quota.period_start)
        rate = rates[key] or Decimal(1)
        overlap = (min(quota.period_end, period.end) - max(quota.period_start, period.start)).days
        length = (quota.period_end - quota.period_start).days + 1
        share = Decimal(overlap + 1) / Decimal(length)
        totals[quota.territory_id] += (quota.amount * rate * share).quantize(CENT)
    return dict(totals)


def _add(target: dict[str, Decimal], figures: dict[str, Decimal]) -> None:
    for name in FIGURES:
        target[name] += figures[name]


def territory_forecast(*, viewer: User, period: Period) -> TerritoryForecast:
    """Per territory of the active model (in tree order): own and rolled-up figures, quota
    and attainment for ``period``. A fixed number of queries, however big the tree."""
    model = TerritoryModel.objects.filter(state=ModelState.ACTIVE).first()
    tree = territory_tree(model) if model else []
    figures = _figures_by_territory(viewer, period, model)
    quotas = _quotas(period, [territory.pk for territory in tree])
    rows = {
        territory.pk: TerritoryRow(
            territory=territory,
            own=figures.get(territory.pk, _zero()),
            quota=quotas.get(territory.pk),
        )
        for territory in tree
    }
    children: dict[int, list[TerritoryRow]] = defaultdict(list)
    for row in rows.values():
        if row.territory.parent_id:
            children[row.territory.parent_id].append(row)
    # Deepest first, so each child is complete before it is added to its parent.
    for row in sorted(rows.values(), key=lambda r: -r.depth):
        _add(row.rolled, row.own)
        child_quotas = [
            c.rolled_quota for c in children[row.territory.pk] if c.rolled_quota is not None
        ]
        row.rolled_quota = (
            row.quota
            if row.quota is not None
            else sum(child_quotas, ZERO)
            if child_quotas
            else None
        )
        parent = rows.get(row.territory.parent_id) if row.territory.parent_id else None
        if parent is not None:
            _add(parent.rolled, row.rolled)
    top = [row for row in rows.values() if row.territory.parent_id is None]
    total = _zero()
    for row in top:
        _add(total, row.rolled)
    top_quotas = [row.rolled_quota for row in top if row.rolled_quota is not None]
    return TerritoryForecast(
        period=period,
        model=model,
        currency=org_settings().default_currency,
        rows=[rows[territory.pk] for territory in tree],
        unassigned=figures.get(None, _zero()),
        total=total,
        total_quota=sum(top_quotas, ZERO) if top_quotas else None,
    )


def register_territory_forecasts() -> None:
    """The navigation entry of the territory forecast, beside the forecast."""
    from patron.core.context_processors import NavItem, register_nav_item

    register_nav_item(
        NavItem(
            area="Sales",
            label="Territory forecast",
            url_name="territory_forecasts:forecast",
            object_type="pipeline.opportunity",
            order=26,
        )
    )
