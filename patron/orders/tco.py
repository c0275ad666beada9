"""Total cost of ownership: what a quote's costs add up to, year by year, over its life span.

Pure functions on plain values (no queries), in Decimal and rounded to cents per cell:
a one-time cost falls in its start year; a yearly cost runs from its start year to its end
year (or the span's end) and grows by ``yearly_increase_percent`` compounded each year after
the first; a monthly cost is twelve times its amount a year, growing the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.html import escape

from patron.orders.choices import TcoCategory, TcoRecurrence
from patron.orders.models import TcoItem

CENT = Decimal("0.01")
MAX_YEARS = 30


@dataclass(frozen=True)
class CostItem:
    category: str
    amount: Decimal
    recurrence: str
    start_year: int = 1
    end_year: int | None = None
    yearly_increase_percent: Decimal = Decimal("0")


@dataclass(frozen=True)
class TcoTable:
    years: list[int]
    # (category key, label, cost per year); only categories with an item, in choice order.
    rows: list[tuple[str, str, list[Decimal]]]
    yearly_totals: list[Decimal]
    cumulative: list[Decimal]

    @property
    def total(self) -> Decimal:
        return self.cumulative[-1] if self.cumulative else Decimal("0.00")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def item_costs(item: CostItem, years: int) -> list[Decimal]:
    """``item``'s cost in each year 1..``years``."""
    costs = [Decimal("0.00")] * years
    if item.start_year > years:
        return costs
    if item.recurrence == TcoRecurrence.ONE_TIME:
        costs[item.start_year - 1] = _cents(item.amount)
        return costs
    per_year = item.amount * 12 if item.recurrence == TcoRecurrence.MONTHLY else item.amount
    growth = Decimal(1) + item.yearly_increase_percent / Decimal(100)
    last = min(item.end_year or years, years)
    for year in range(item.start_year, last + 1):
        costs[year - 1] = _cents(per_year * growth ** (year - item.start_year))
    return costs


def tco_table(items: Iterable[CostItem], years: int) -> TcoTable:
    """Per category and year, the yearly totals and the running (cumulative) totals."""
    labels = dict(TcoCategory.choices)
    by_category: dict[str, list[Decimal]] = {}
    for item in items:
        row = by_category.setdefault(item.category, [Decimal("0.00")] * years)
        for index, cost in enumerate(item_costs(item, years)):
            row[index] += cost
    rows = [
        (key, str(labels[key]), by_category[key])
        for key in TcoCategory.values
        if key in by_category
    ]
    yearly = [sum((row[2][i] for row in rows), start=Decimal("0.00")) for i in range(years)]
    cumulative: list[Decimal] = []
    running = Decimal("0.00")
    for value in yearly:
        running += value
        cumulative.append(running)
    return TcoTable(list(range(1, years + 1)), rows, yearly, cumulative)


def _fmt(value: Decimal) -> str:
    return f"{value:,.2f}"


def tco_chart_svg(table: TcoTable, *, currency: str, title: str = "Total cost of ownership") -> str:
    """An accessible SVG: a bar per year (its total) and a line of the cumulative total."""
    width, height, left, bottom, top = 640, 280, 72, 36, 20
    plot_w, plot_h = width - left - 16, height - bottom - top
    peak = max([*table.cumulative, Decimal("1")])
    count = max(len(table.years), 1)
    slot = plot_w / count

    def y(value: Decimal) -> float:
        return top + plot_h - float(value / peak) * plot_h

    columns = list(zip(table.years, table.yearly_totals, table.cumulative, strict=True))
    desc = "; ".join(
        f"year {year}: {_fmt(cost)} {currency}, cumulative {_fmt(total)} {currency}"
        for year, cost, total in columns
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="tco-chart-title tco-chart-desc" class="tco-chart">',
        f'<title id="tco-chart-title">{escape(title)}</title>',
        f'<desc id="tco-chart-desc">Bars: cost per year; line: cumulative cost. '
        f"{escape(desc)}.</desc>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 16}" y2="{top + plot_h}" '
        'stroke="#555"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">'
        f"{escape(_fmt(peak))}</text>",
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    points = []
    for index, (year, cost, total) in enumerate(columns):
        x = left + index * slot
        bar_top = y(cost)
        parts.append(
            f'<rect x="{x + slot * 0.2:.1f}" y="{bar_top:.1f}" width="{slot * 0.6:.1f}" '
            f'height="{top + plot_h - bar_top:.1f}" fill="#3b6ea5"/>'
        )
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{height - 12}" text-anchor="middle" '
            f'font-size="11">Year {year}</text>'
        )
        points.append(f"{x + slot / 2:.1f},{y(total):.1f}")
    if points:
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="#b34700" stroke-width="2"/>'
        )
        for point in points:
            cx, cy = point.split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="#b34700"/>')
    parts.append("</svg>")
    return "".join(parts)


def cost_items(rows: Sequence[TcoItem]) -> list[CostItem]:
    """A quote's ``TcoItem`` rows as plain values."""
    return [
        CostItem(
            category=row.category,
            amount=row.amount,
            recurrence=row.recurrence,
            start_year=row.start_year,
            end_year=row.end_year,
            yearly_increase_percent=row.yearly_increase_percent,
        )
        for row in rows
    ]
