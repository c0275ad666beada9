"""Opportunities for imports (see patron.core.importing), written through the pipeline
services so stages derive probability, forecast category and closed state."""

from __future__ import annotations

from typing import Any

from django.db import models

from patron.core.choices import Via
from patron.core.importing import (
    DATE,
    DECIMAL,
    INTEGER,
    RELATED,
    TEXT,
    ImportField,
    ImportSpec,
    MatchKey,
    Resolver,
    register_import,
    register_resolver,
)


def _stages(user: Any) -> models.QuerySet[Any]:
    from patron.pipeline.models import Stage
    from patron.pipeline.services import default_pipeline

    pipeline = default_pipeline()
    return Stage.objects.filter(active=True, pipeline=pipeline).order_by("position")


def _create(user: Any, values: dict[str, Any]) -> Any:
    from patron.pipeline.services import opportunity_create

    return opportunity_create(user=user, via=Via.IMPORT, **values)


def _update(user: Any, record: Any, values: dict[str, Any]) -> Any:
    from patron.pipeline.services import opportunity_update

    return opportunity_update(user=user, opportunity=record, via=Via.IMPORT, **values)


def register_imports() -> None:
    from patron.pipeline.models import Opportunity, Stage

    register_resolver(
        Resolver(
            name="stage",
            label="stage",
            model=Stage,
            lookups=(("name", TEXT),),
            case_insensitive=frozenset({"name"}),
            queryset=_stages,
        )
    )
    register_import(
        ImportSpec(
            object_type=Opportunity.object_type(),
            label="opportunity",
            label_plural="opportunities",
            model=Opportunity,
            fields=(
                ImportField(
                    "name",
                    "Opportunity name",
                    required=True,
                    max_length=255,
                    aliases=("deal name", "opportunity", "deal"),
                ),
                ImportField(
                    "account",
                    "Account",
                    RELATED,
                    resolver="account",
                    aliases=("account name", "company", "associated company", "accountid"),
                ),
                ImportField(
                    "stage",
                    "Stage",
                    RELATED,
                    resolver="stage",
                    aliases=("stagename", "deal stage", "deal_stage"),
                ),
                ImportField(
                    "amount", "Amount", DECIMAL, aliases=("close_value", "value", "deal amount")
                ),
                ImportField("currency", "Currency", max_length=3, aliases=("currencyisocode",)),
                ImportField(
                    "close_date",
                    "Close date",
                    DATE,
                    required=True,
                    aliases=("closedate", "expected close date"),
                ),
                ImportField(
                    "engaged_on",
                    "Engaged on",
                    DATE,
                    aliases=("engage_date", "create date", "createddate"),
                ),
                ImportField("probability", "Probability (%)", INTEGER, aliases=("probability",)),
                ImportField("next_step", "Next step", max_length=255, aliases=("nextstep",)),
                ImportField(
                    "source", "Source", max_length=100, aliases=("leadsource", "lead source")
                ),
                ImportField("description", "Description", TEXT),
                ImportField(
                    "external_id",
                    "External id",
                    max_length=100,
                    aliases=("opportunity_id", "id", "record id", "deal id"),
                ),
                ImportField(
                    "owner",
                    "Owner",
                    RELATED,
                    resolver="user",
                    aliases=("sales_agent", "deal owner", "opportunity owner", "ownerid"),
                ),
            ),
            match_keys=(
                MatchKey("external_id", "External id", "external_id", TEXT),
                MatchKey("id", "Patron id", "id", INTEGER),
            ),
            presets={
                "salesforce": {
                    "Id": "external_id",
                    "Name": "name",
                    "AccountId": "account",
                    "StageName": "stage",
                    "Amount": "amount",
                    "CloseDate": "close_date",
                    "Probability": "probability",
                    "NextStep": "next_step",
                    "LeadSource": "source",
                    "Description": "description",
                    "CurrencyIsoCode": "currency",
                },
                "hubspot": {
                    "Record ID": "external_id",
                    "Deal Name": "name",
                    "Deal Stage": "stage",
                    "Amount": "amount",
                    "Close Date": "close_date",
                    "Deal owner": "owner",
                    "Associated Company": "account",
                    "Create Date": "engaged_on",
                    "Deal Description": "description",
                },
                "maven": {
                    "opportunity_id": "external_id",
                    "sales_agent": "owner",
                    "account": "account",
                    "deal_stage": "stage",
                    "engage_date": "engaged_on",
                    "close_date": "close_date",
                    "close_value": "amount",
                },
            },
            create_one=_create,
            update_one=_update,
        )
    )
