"""Lead-handling settings, leads at risk and scoring."""

from ninja import Router

router = Router(tags=["Lead policy"])
