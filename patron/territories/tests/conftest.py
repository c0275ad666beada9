from __future__ import annotations

from typing import Any

import pytest

from patron.territories import services
from patron.territories.choices import ModelState
from patron.territories.models import Territory, TerritoryModel


def make_territory(
    admin: Any, model: TerritoryModel, name: str, *rules: dict[str, Any], **kwargs: Any
) -> Territory:
    territory = services.territory_save(user=admin, model=model, name=name, **kwargs)
    for rule in rules:
        services.rule_add(user=admin, territory=territory, data=rule)
    return territory


def rule_in(field: str, *values: str) -> dict[str, Any]:
    return {"field": field, "operator": "in", "values": list(values)}


def rule_range(field: str, low: str, high: str) -> dict[str, Any]:
    return {"field": field, "operator": "range", "low": low, "high": high}


@pytest.fixture
def active_model(db: Any) -> TerritoryModel:
    return TerritoryModel.objects.create(name="FY2026", state=ModelState.ACTIVE)


@pytest.fixture
def planning_model(db: Any) -> TerritoryModel:
    return TerritoryModel.objects.create(name="FY2027 draft")
