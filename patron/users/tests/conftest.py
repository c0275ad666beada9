from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache():
    """Throttle counters and used TOTP codes live in the cache; start every test clean."""
    cache.clear()
    yield
    cache.clear()
