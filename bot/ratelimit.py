"""Request rate limits, per client address and per web chat session, on the `limits` library:
buckets live in memory by default, or in Redis so that every worker shares them."""

from __future__ import annotations

import time

from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string


class RateLimits:
    """Named limits ("ip", "session", ...), each a `limits` string such as "20/minute"."""

    def __init__(self, storage_uri: str, rules: dict[str, str]) -> None:
        options = {"implementation": "redispy"} if storage_uri.startswith("redis") else {}
        storage = storage_from_string(f"async+{storage_uri}", **options)
        self._limiter = MovingWindowRateLimiter(storage)  # type: ignore[arg-type]
        self._rules: dict[str, list[RateLimitItem]] = {
            name: parse_many(rule) for name, rule in rules.items()
        }

    async def hit(self, rule: str, key: str) -> float | None:
        """Count one request; None when allowed, else seconds until one would be."""
        for item in self._rules[rule]:
            if not await self._limiter.hit(item, rule, key):
                stats = await self._limiter.get_window_stats(item, rule, key)
                return max(stats.reset_time - time.time(), 1.0)
        return None
