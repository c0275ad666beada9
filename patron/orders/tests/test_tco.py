"""Total cost of ownership arithmetic, against numbers worked out by hand."""

from __future__ import annotations

from decimal import Decimal

from patron.orders.choices import TcoCategory, TcoRecurrence
from patron.orders.tco import CostItem, item_costs, tco_chart_svg, tco_table

D = Decimal
LICENCE = CostItem(TcoCategory.LICENCE, D("10000"), TcoRecurrence.ONE_TIME)
MAINTENANCE = CostItem(
    TcoCategory.MAINTENANCE, D("2000"), TcoRecurrence.YEARLY, yearly_increase_percent=D("5")
)
SUPPORT = CostItem(TcoCategory.SUPPORT, D("100"), TcoRecurrence.MONTHLY)


def test_licence_maintenance_and_support_over_three_years_match_the_hand_computed_table():
    table = tco_table([LICENCE, MAINTENANCE, SUPPORT], 3)

    assert table.years == [1, 2, 3]
    assert [(key, costs) for key, _, costs in table.rows] == [
        ("licence", [D("10000.00"), D("0.00"), D("0.00")]),
        ("maintenance", [D("2000.00"), D("2100.00"), D("2205.00")]),
        ("support", [D("1200.00"), D("1200.00"), D("1200.00")]),
    ]
    assert table.yearly_totals == [D("13200.00"), D("3300.00"), D("3405.00")]
    assert table.cumulative == [D("13200.00"), D("16500.00"), D("19905.00")]
    assert table.total == D("19905.00")


def test_a_recurring_cost_runs_from_its_start_year_to_its_end_year_growing_from_its_start():
    training = CostItem(
        TcoCategory.TRAINING,
        D("1000"),
        TcoRecurrence.YEARLY,
        start_year=2,
        end_year=3,
        yearly_increase_percent=D("10"),
    )

    assert item_costs(training, 4) == [D("0.00"), D("1000.00"), D("1100.00"), D("0.00")]


def test_a_one_time_cost_falls_in_its_start_year_and_one_beyond_the_span_counts_nothing():
    later = CostItem(TcoCategory.IMPLEMENTATION, D("500"), TcoRecurrence.ONE_TIME, start_year=2)
    beyond = CostItem(TcoCategory.OTHER, D("500"), TcoRecurrence.YEARLY, start_year=5)

    assert item_costs(later, 3) == [D("0.00"), D("500.00"), D("0.00")]
    assert tco_table([beyond], 3).total == D("0.00")


def test_compounded_growth_is_rounded_to_cents_each_year():
    costs = item_costs(
        CostItem(
            TcoCategory.SUPPORT, D("99.99"), TcoRecurrence.MONTHLY, yearly_increase_percent=D("3.5")
        ),
        3,
    )

    # 1199.88, 1199.88 * 1.035 = 1241.8758, 1199.88 * 1.035^2 = 1285.3415...
    assert costs == [D("1199.88"), D("1241.88"), D("1285.34")]


def test_two_items_of_one_category_share_its_row():
    table = tco_table([LICENCE, CostItem(TcoCategory.LICENCE, D("250"), TcoRecurrence.YEARLY)], 2)

    assert table.rows == [("licence", "Licence", [D("10250.00"), D("250.00")])]


def test_the_chart_is_an_accessible_svg_with_a_bar_per_year_and_the_cumulative_line():
    svg = tco_chart_svg(tco_table([LICENCE, MAINTENANCE, SUPPORT], 3), currency="EUR")

    assert svg.startswith("<svg")
    assert 'role="img"' in svg
    assert '<title id="tco-chart-title">' in svg
    assert "year 3: 3,405.00 EUR, cumulative 19,905.00 EUR" in svg
    assert svg.count("<rect") == 3
    assert svg.count("<polyline") == 1
