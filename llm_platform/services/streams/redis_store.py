"""Redis Streams buffers, so any instance can replay a stream and cancel its generation.

Frames are appended in-process first (local readers get them with no round trip) and
written through to a Redis Stream `llmp:stream:{id}` with explicit entry ids `0-{n}`, so a
frame's SSE id maps to its entry id. Readers on other instances replay with XRANGE and follow
with XREAD BLOCK, refreshing a reader lease key while attached. Cancel requests are a key
(for the watchdog) plus a pub/sub message (for an immediate stop). A remote reader of a
silent stream checks that the instance producing it is alive (its heartbeat key, see
services/instances.py); when it is gone, the reader ends the stream with an `interrupted`
error frame (appended with the next entry id, so racing readers add it once).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from llm_platform.core.logging import get_logger
from llm_platform.services.instances import INTERRUPTED_ERROR, instance_key
from llm_platform.services.streams.frames import ErrorFrame, Frame, StartFrame, StreamFrame
from llm_platform.services.streams.store import Heartbeat, MemoryStreamStore, StreamStore

log = get_logger("llm_platform.streams")

CANCEL_CHANNEL = "llmp:stream-cancel"
# How long a running stream's key lives past its last frame (a stalled generation is
# stopped by the idle timeout long before this).
_LIVE_TTL_SECONDS = 3600


# On the cancel channel, a message with this prefix asks every instance to drop its copy.
_DROP_PREFIX = "drop:"


def _key(stream_id: str) -> str:
    return f"llmp:stream:{stream_id}"


def _lease_key(stream_id: str) -> str:
    return f"llmp:stream:{stream_id}:reader"


def _cancel_key(stream_id: str) -> str:
    return f"llmp:stream:{stream_id}:cancel"


class RedisStreamStore(StreamStore):
    def __init__(self, redis: Redis, *, retention: float) -> None:
        super().__init__(retention=retention)
        self.redis = redis
        self.local = MemoryStreamStore(retention=retention)
        self._listener: asyncio.Task[None] | None = None
        self._ttl = max(1, int(retention + 0.999))

    def create(self, stream_id: str) -> None:
        self.local.create(stream_id)

    async def append(self, stream_id: str, body: StreamFrame | dict[str, Any]) -> Frame:
        frame = self.local.append_now(stream_id, body)
        ttl = self._ttl if frame.terminal else max(self._ttl, _LIVE_TTL_SECONDS)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(_key(stream_id), {"d": frame.json()}, id=f"0-{frame.id}")
            pipe.expire(_key(stream_id), ttl)
            await pipe.execute()
        return frame

    async def exists(self, stream_id: str) -> bool:
        if self.local.has(stream_id):
            return True
        return bool(await self.redis.exists(_key(stream_id)))

    async def first(self, stream_id: str) -> Frame | None:
        if self.local.has(stream_id):
            return await self.local.first(stream_id)
        entries: Any = await self.redis.xrange(_key(stream_id), min="0-1", max="0-1")
        for _entry_id, fields in entries:
            return Frame.from_json(1, bytes(fields[b"d"]))
        return None

    async def subscribe(
        self, stream_id: str, after: int, *, heartbeat: float
    ) -> AsyncIterator[Frame | None]:
        if self.local.has(stream_id):
            async for item in self.local.subscribe(stream_id, after, heartbeat=heartbeat):
                yield item
            return
        async for item in self._subscribe_remote(stream_id, after, heartbeat):
            yield item

    async def _subscribe_remote(
        self, stream_id: str, after: int, heartbeat: float
    ) -> AsyncIterator[Frame | None]:
        key = _key(stream_id)
        refresh = max(0.05, min(self.retention / 3, heartbeat))
        lease = _lease_key(stream_id)
        await self.redis.set(lease, b"1", ex=self._ttl)
        leased_at = silent_since = time.monotonic()
        entries: Any = await self.redis.xrange(key, min=f"(0-{after}", max="+")
        if not entries and not await self.redis.exists(key):
            return
        last = after
        owner = await self._owner(key)
        checked_at = time.monotonic()
        while True:
            for entry_id, fields in entries:
                last = int(_text(entry_id).split("-", 1)[1])
                frame = Frame.from_json(last, bytes(fields[b"d"]))
                yield frame
                if frame.terminal:
                    return
            if entries:
                silent_since = time.monotonic()
            elif time.monotonic() - silent_since >= heartbeat:
                silent_since = time.monotonic()
                yield Heartbeat
            if time.monotonic() - leased_at >= refresh:
                await self.redis.set(lease, b"1", ex=self._ttl)
                leased_at = time.monotonic()
            block_ms = max(1, int(min(refresh, heartbeat) * 1000))
            result: Any = await self.redis.xread({key: f"0-{last}"}, block=block_ms)
            entries = _xread_entries(result)
            if not entries and not await self.redis.exists(key):
                return
            if not entries and owner and time.monotonic() - checked_at >= refresh:
                checked_at = time.monotonic()
                if not await self.redis.exists(instance_key(owner)):
                    await self._interrupt(key, last + 1)
                    entries = await self.redis.xrange(key, min=f"(0-{last}", max="+")

    async def _owner(self, key: str) -> str | None:
        entries: Any = await self.redis.xrange(key, min="0-1", max="0-1")
        for _entry_id, fields in entries:
            start = Frame.from_json(1, bytes(fields[b"d"])).body
            return start.instance_id if isinstance(start, StartFrame) else None
        return None

    async def _interrupt(self, key: str, frame_id: int) -> None:
        """End the stream of a dead instance (once: a later id wins only if none exists)."""
        frame = Frame.of(
            frame_id,
            ErrorFrame(
                error=INTERRUPTED_ERROR, code="interrupted", status="interrupted", http_status=503
            ),
        )
        try:
            await self.redis.xadd(key, {"d": frame.json()}, id=f"0-{frame_id}")
            await self.redis.expire(key, self._ttl)
        except ResponseError:  # another reader (or the instance, after all) got there first
            pass

    async def _keys_exist(self, stream_ids: list[str], key: Callable[[str], str]) -> list[bool]:
        """Whether each stream's `key` exists, in one pipelined round trip."""
        if not stream_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream_id in stream_ids:
                pipe.exists(key(stream_id))
            found = await pipe.execute()
        return [bool(n) for n in found]

    async def detached_streams(self, stream_ids: Iterable[str]) -> set[str]:
        candidates = [s for s in stream_ids if not self.local.recently_attached(s)]
        leased = await self._keys_exist(candidates, _lease_key)
        return {s for s, held in zip(candidates, leased, strict=True) if not held}

    async def cancel_requested(self, stream_ids: Iterable[str]) -> set[str]:
        ids = list(stream_ids)
        flags = await self._keys_exist(ids, _cancel_key)
        return {s for s, flag in zip(ids, flags, strict=True) if flag}

    async def signal_cancel(self, stream_id: str) -> bool:
        if not await self.exists(stream_id):
            return False
        await self.redis.set(_cancel_key(stream_id), b"1", ex=self._ttl)
        await self.redis.publish(CANCEL_CHANNEL, stream_id)
        return True

    async def start(self, on_cancel: Callable[[str], None]) -> None:
        """Listen for cancel requests. Redis may be down at start-up or blip later: the
        listener keeps retrying (the watchdog's cancel-key check covers the gaps)."""

        async def listen() -> None:
            warned = False
            while True:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(CANCEL_CHANNEL)
                    warned = False
                    while True:
                        message = await pubsub.get_message(timeout=1.0)
                        if message and message.get("type") == "message":
                            text = _text(message["data"])
                            if text.startswith(_DROP_PREFIX):  # a deleted stream's copy
                                self.local.drop(text.removeprefix(_DROP_PREFIX))
                            else:
                                on_cancel(text)
                except (ConnectionError, OSError, RedisError) as exc:
                    if not warned:
                        log.warning("stream_cancel_listener_error", error=str(exc))
                        warned = True
                    await asyncio.sleep(1.0)
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()

        self._listener = asyncio.create_task(listen(), name="stream-cancel-listener")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    def sweep(self) -> None:
        self.local.sweep()

    async def delete(self, stream_id: str) -> None:
        """Here, in Redis and in the local copy of the instance that produced it."""
        self.local.drop(stream_id)
        await self.redis.delete(_key(stream_id), _lease_key(stream_id), _cancel_key(stream_id))
        await self.redis.publish(CANCEL_CHANNEL, _DROP_PREFIX + stream_id)


def _xread_entries(result: Any) -> list[Any]:
    """XREAD's reply: a list of [key, entries] (RESP2) or a {key: entries} map (RESP3)."""
    if not result:
        return []
    groups = result.values() if isinstance(result, dict) else [items for _, items in result]
    return [entry for items in groups for entry in items]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
