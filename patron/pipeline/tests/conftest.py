from __future__ import annotations

import pytest

from conftest import ALL_ACTIONS
from patron.contacts.services import account_create
from patron.core.choices import OrgWideAccess
from patron.core.testing import grant, set_org_default
from patron.pipeline.choices import ForecastCategory
from patron.pipeline.models import LossReason, Pipeline, Stage

SALES_STAGES = (
    ("Prospecting", 10, ForecastCategory.PIPELINE, 14),
    ("Qualification", 20, ForecastCategory.PIPELINE, 14),
    ("Proposal", 60, ForecastCategory.BEST_CASE, 21),
    ("Negotiation", 80, ForecastCategory.COMMIT, 14),
    ("Won", 100, ForecastCategory.CLOSED_WON, None),
    ("Lost", 0, ForecastCategory.CLOSED_LOST, None),
)


def make_pipeline(name: str = "New business", *, default: bool = True) -> Pipeline:
    pipeline = Pipeline.objects.create(name=name, is_default=default)
    for position, (stage, probability, category, days) in enumerate(SALES_STAGES):
        Stage.objects.create(
            pipeline=pipeline,
            name=stage,
            position=position,
            probability=probability,
            forecast_category=category,
            expected_days=days,
        )
    return pipeline


@pytest.fixture
def pipeline_roles(sales_roles):
    """The sales hierarchy, also allowed everything on opportunities (private by default)."""
    for role in sales_roles.values():
        grant(role, "pipeline.opportunity", *ALL_ACTIONS)
    set_org_default("pipeline.opportunity", OrgWideAccess.PRIVATE)
    return sales_roles


@pytest.fixture
def sales_pipeline(db):
    return make_pipeline()


@pytest.fixture
def stages(sales_pipeline):
    return {stage.name: stage for stage in sales_pipeline.stages.all()}


@pytest.fixture
def price_too_high(db):
    return LossReason.objects.create(name="Price too high")


@pytest.fixture
def acme(rep, pipeline_roles):
    return account_create(user=rep, name="Acme Corporation")
