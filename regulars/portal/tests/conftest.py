import pytest
from django.core.cache import cache

from regulars.loyalty.tests.conftest import (  # noqa: F401  the loyalty fixtures, shared
    cake_reward,
    dora,
    eve,
    free_coffee,
    menu,
    points,
    stamp_card,
    tiers,
)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The join rate limit counts in the cache, per client address: each test starts at zero."""
    cache.clear()
    yield
    cache.clear()
