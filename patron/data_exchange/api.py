"""Data management API: imports, mappings, duplicates and merges, privacy requests."""

from ninja import Router

router = Router(tags=["data management"])

# Privacy (GDPR) requests.
from patron.data_exchange.privacy_api import router as privacy_router  # noqa: E402

router.add_router("", privacy_router)

# Imports.
from patron.data_exchange.import_api import router as import_router  # noqa: E402

router.add_router("", import_router)

# Data quality.
from patron.data_exchange.quality_api import router as quality_router  # noqa: E402

router.add_router("", quality_router)

# Duplicates and merge.
from patron.data_exchange.duplicate_api import router as duplicate_router  # noqa: E402

router.add_router("", duplicate_router)
