"""The Maven sample's sales history, imported, gives the figures a hand count of the CSV
files gives."""

from __future__ import annotations

import contextlib
import csv
import io
from collections import Counter
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db.models import Sum

from patron.cli import main
from patron.contacts.demo import DATA_DIR
from patron.core.models import SearchEntry
from patron.orders.maven_import import PIPELINE_NAME, maven_sales_load
from patron.orders.models import OpportunityLineItem, Product
from patron.pipeline import analytics
from patron.pipeline.models import Opportunity, StageHistory
from patron.users.models import User

pytestmark = pytest.mark.django_db(transaction=False)


def _rows() -> list[dict[str, str]]:
    with (DATA_DIR / "sales_pipeline.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def imported(django_db_setup, django_db_blocker):
    """One import for the module (it takes a few seconds), rolled back afterwards."""
    from django.db import transaction

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            first = maven_sales_load()
            # Loading again through the command adds nothing.
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                status = main(["demo", "--sales"])
            yield first, (status, printed.getvalue())
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _admin() -> User:
    return User.objects.filter(is_superuser=True).order_by("pk")[0]


def test_every_opportunity_is_imported_once(imported):
    first, (status, printed) = imported
    rows = _rows()
    assert first.opportunities_added == len(rows) == 8800
    assert status == 0
    assert "8800 opportunities (0 added)" in printed
    assert Opportunity.all_objects.filter(pipeline__name=PIPELINE_NAME).count() == 8800


def test_imported_opportunities_are_found_by_global_search(imported):
    opportunity_type = ContentType.objects.get_for_model(Opportunity)
    assert SearchEntry.objects.filter(content_type=opportunity_type).count() == 8800


def test_overall_win_rate_matches_the_csv(imported):
    stages = Counter(row["deal_stage"] for row in _rows())
    rows = analytics.win_rates(
        viewer=_admin(), filters=analytics.AnalyticsFilters(), dimension=None, grain="quarter"
    )
    won = sum(row.values["won"] for row in rows)
    closed = sum(row.values["closed"] for row in rows)
    assert (won, closed) == (stages["Won"], stages["Won"] + stages["Lost"])


def test_won_revenue_of_one_agent_matches_the_csv(imported):
    agent = "Darcel Schlecht"
    expected = sum(
        Decimal(row["close_value"])
        for row in _rows()
        if row["sales_agent"] == agent and row["deal_stage"] == "Won"
    )
    won = Opportunity.objects.filter(owner__full_name=agent, is_won=True)
    assert won.aggregate(total=Sum("amount_org"))["total"] == expected
    owner_row = next(
        row
        for row in analytics.win_rates(
            viewer=_admin(), filters=analytics.AnalyticsFilters(), dimension="owner"
        )
        if row.label == agent
    )
    assert owner_row.values["won"] == won.count()


def test_deals_without_an_account_are_kept(imported):
    expected = sum(1 for row in _rows() if not row["account"])
    assert expected > 0
    assert Opportunity.objects.filter(account__isnull=True).count() == expected


def test_the_two_spellings_of_gtx_pro_are_one_product(imported):
    # The opportunities say "GTXPro", the products file "GTX Pro".
    with (DATA_DIR / "products.csv").open(newline="", encoding="utf-8") as handle:
        catalogue = {row["product"] for row in csv.DictReader(handle)}
    sold = {row["product"] for row in _rows()}
    assert "GTXPro" in sold - catalogue
    assert "GTX Pro" in catalogue - sold
    merged = catalogue | {"GTX Pro" if name == "GTXPro" else name for name in sold}
    assert Product.objects.filter(sku__startswith="MAVEN-").count() == len(merged) == 7
    gtx_pro = sum(1 for row in _rows() if row["product"] == "GTXPro")
    assert OpportunityLineItem.objects.filter(product__name="GTX Pro").count() == gtx_pro
    by_product = analytics.win_rates(
        viewer=_admin(), filters=analytics.AnalyticsFilters(), dimension="product"
    )
    assert {row.label for row in by_product} == merged


def test_closed_deals_have_consistent_rows_and_history(imported):
    closed = Opportunity.objects.filter(is_closed=True)
    assert not closed.filter(closed_on__isnull=True).exists()
    assert not closed.filter(is_won=True, amount_org__isnull=True).exists()
    # An engage row for every deal and a close row for each closed one.
    assert StageHistory.objects.count() == 8800 + closed.count()
    sample = _rows()[0]
    deal = Opportunity.objects.get(external_id=sample["opportunity_id"])
    assert (str(deal.engaged_on), str(deal.closed_on)) == (
        sample["engage_date"],
        sample["close_date"],
    )


def test_median_sales_cycle_matches_the_csv(imported):
    from datetime import date

    days = sorted(
        (date.fromisoformat(r["close_date"]) - date.fromisoformat(r["engage_date"])).days
        for r in _rows()
        if r["deal_stage"] == "Won"
    )
    middle = len(days) // 2
    median = days[middle] if len(days) % 2 else (days[middle - 1] + days[middle]) / 2
    figures = analytics.sales_cycle(viewer=_admin(), filters=analytics.AnalyticsFilters())
    assert figures["deals"] == len(days)
    assert figures["median_days"] == Decimal(str(median)).quantize(Decimal("0.1"))
    assert figures["average_days"] == (Decimal(sum(days)) / len(days)).quantize(Decimal("0.1"))
