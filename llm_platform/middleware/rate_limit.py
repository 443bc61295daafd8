"""Per-user and per-client-IP rate limits (the `limits` library).

In-process counters by default; shared through Redis when `REDIS_URL` is set, so that
every instance counts against the same budget.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from llm_platform.core.errors import RateLimited


class RateLimiter:
    def __init__(self, per_user: int, per_ip: int, redis_url: str | None = None) -> None:
        self.storage: Storage
        if redis_url:
            # redis-py (a dependency already) rather than limits' default client, coredis.
            self.storage = RedisStorage(
                _async_redis_uri(redis_url), key_prefix="llmp:rl", implementation="redispy"
            )
        else:
            self.storage = MemoryStorage()
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        self.user_item = RateLimitItemPerMinute(per_user) if per_user > 0 else None
        self.ip_item = RateLimitItemPerMinute(per_ip) if per_ip > 0 else None

    async def check(self, *, user_id: str | None, client_ip: str | None) -> None:
        checks = []
        if self.user_item is not None and user_id:
            checks.append((self.user_item, "user", user_id))
        if self.ip_item is not None and client_ip:
            checks.append((self.ip_item, "ip", client_ip))
        for item, kind, ident in checks:
            if not await self.strategy.hit(item, kind, ident):
                stats = await self.strategy.get_window_stats(item, kind, ident)
                retry = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimited(
                    f"Rate limit of {item.amount} requests per minute per {kind} exceeded",
                    retry_after=retry,
                )


def _async_redis_uri(url: str) -> str:
    if url.startswith("async+"):
        return url
    return "async+" + url
