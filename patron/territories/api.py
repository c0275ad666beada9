"""Territory models, territories, rules, members and assignment."""

from ninja import Router

router = Router(tags=["Territories"])
