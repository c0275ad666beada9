"""The public capture endpoint, keyed by a capture form's key."""

from ninja import Router

router = Router(tags=["Lead capture"])
