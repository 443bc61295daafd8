"""Runs generations as background tasks and cancels them (on request, from any instance,
or when no client has been attached for the retention window)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from llm_platform.core.logging import get_logger
from llm_platform.services.streams.store import StreamStore

log = get_logger("llm_platform.streams")


class StreamManager:
    def __init__(self, store: StreamStore, *, watch_interval: float | None = None) -> None:
        self.store = store
        self.running: dict[str, asyncio.Task[Any]] = {}
        self.watch_interval = watch_interval or max(0.05, min(1.0, store.retention / 4))
        self._watchdog: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.store.start(self._on_remote_cancel)
        self._watchdog = asyncio.create_task(self._watch(), name="stream-watchdog")

    async def close(self) -> None:
        """Cancel what still runs and wait for it to log its (cancelled) result."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self.store.close()

    def launch(self, stream_id: str, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `work` (which writes the stream's frames) detached from any request."""
        self.store.create(stream_id)
        task = asyncio.create_task(work, name=f"generation-{stream_id}")
        self.running[stream_id] = task
        task.add_done_callback(lambda _: self.running.pop(stream_id, None))
        return task

    def _on_remote_cancel(self, stream_id: str) -> None:
        self._cancel_local(stream_id)

    def _cancel_local(self, stream_id: str) -> bool:
        task = self.running.get(stream_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    async def cancel(self, stream_id: str) -> bool:
        """Cancel a generation wherever it runs. False when the stream is unknown."""
        if self._cancel_local(stream_id):
            return True
        return await self.store.signal_cancel(stream_id)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.watch_interval)
            try:
                ids = list(self.running)
                for stream_id in await self.store.cancel_requested(ids):
                    self._cancel_local(stream_id)
                for stream_id in await self.store.detached_streams(ids):
                    if self._cancel_local(stream_id):
                        log.info("stream_detached_cancelled", stream_id=stream_id)
                self.store.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a Redis blip must not kill the watchdog
                log.warning("stream_watchdog_error", error=str(exc))
