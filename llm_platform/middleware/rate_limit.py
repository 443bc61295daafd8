"""Per-user and per-client-IP rate limits (the `limits` library).

In-process counters by default; shared through Redis when `REDIS_URL` is set, so that
every instance counts against the same budget.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from llm_platform.core.errors import RateLimited
from llm_platform.core.logging import get_logger
from llm_platform.core.security import Principal

log = get_logger("llm_platform.rate_limit")


class RateLimiter:
    def __init__(
        self,
        per_user: int,
        per_ip: int,
        redis_url: str | None = None,
        *,
        new_participants_per_ip: int = 0,
    ) -> None:
        self.storage: Storage
        if redis_url:
            self.storage = RedisStorage(
                _async_redis_uri(redis_url),
                implementation="redispy",
                key_prefix="llmp:rl",
                wrap_exceptions=True,
            )
        else:
            self.storage = MemoryStorage()
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        self.user_item = RateLimitItemPerMinute(per_user) if per_user > 0 else None
        self.ip_item = RateLimitItemPerMinute(per_ip) if per_ip > 0 else None
        self.mint_item = (
            RateLimitItemPerMinute(new_participants_per_ip) if new_participants_per_ip > 0 else None
        )

    async def check_ip(self, client_ip: str | None) -> None:
        """Before authentication, so that bad keys are throttled too."""
        if self.ip_item is not None and client_ip:
            await self._hit(self.ip_item, "ip", client_ip)

    async def check_user(self, user_id: str | None) -> None:
        if self.user_item is not None and user_id:
            await self._hit(self.user_item, "user", user_id)

    async def check_principal(self, principal: Principal, client_ip: str | None) -> None:
        """After authentication: a proven identity (key, token) is counted per user. A
        client-named id proves nothing (a new one per request is free), so such callers and
        anonymous ones are counted per client IP, at the per-user rate."""
        if principal.authenticated:
            await self.check_user(principal.user_id)
        elif self.user_item is not None and client_ip:
            await self._hit(self.user_item, "unauthenticated client IP", client_ip)

    async def check_new_participant(self, client_ip: str | None) -> None:
        """Minting participant tokens: each is a fresh identity, so they are rationed per IP."""
        if self.mint_item is not None and client_ip:
            await self._hit(self.mint_item, "new-participant", client_ip)

    async def _hit(self, item: RateLimitItem, kind: str, ident: str) -> None:
        try:
            if await self.strategy.hit(item, kind, ident):
                return
            stats = await self.strategy.get_window_stats(item, kind, ident)
        except StorageError as exc:
            # A limit is protection, not data: with Redis down, serve rather than fail.
            log.warning("rate_limit_storage_error", error=type(exc.storage_error).__name__)
            return
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"Rate limit of {item.amount} requests per minute per {kind} exceeded",
            retry_after=retry,
        )


def _async_redis_uri(url: str) -> str:
    if url.startswith("async+"):
        return url
    return "async+" + url
