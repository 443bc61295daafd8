"""Stream buffers: the interface and the in-process implementation."""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from llm_platform.services.streams.frames import Frame, StreamFrame

# Yielded by `subscribe` after `heartbeat` seconds without a frame (readers send a ping).
Heartbeat = None


class StreamStore(ABC):
    """Per-stream append-only buffers with replay, reader presence and cancel signals."""

    def __init__(self, *, retention: float) -> None:
        self.retention = retention

    @abstractmethod
    def create(self, stream_id: str) -> None:
        """Start a buffer for a generation running in this process."""

    @abstractmethod
    async def append(self, stream_id: str, frame: StreamFrame | dict[str, Any]) -> Frame:
        """Add a frame (or its stored payload, `{"type": ...}`); readers see it at once."""

    @abstractmethod
    async def exists(self, stream_id: str) -> bool: ...

    @abstractmethod
    async def first(self, stream_id: str) -> Frame | None:
        """The stream's first frame (`start`, naming its owner), or None if unknown."""

    @abstractmethod
    def subscribe(
        self, stream_id: str, after: int, *, heartbeat: float
    ) -> AsyncIterator[Frame | None]:
        """Frames with id > `after`, then live ones, until the terminal frame.

        Yields None (a heartbeat) after `heartbeat` seconds of silence. While iterating, the
        reader counts as attached to the stream. Ends at once for an unknown stream.
        """

    @abstractmethod
    async def detached_streams(self, stream_ids: Iterable[str]) -> set[str]:
        """Of these local streams, those no reader has been attached to for `retention`."""

    async def cancel_requested(self, stream_ids: Iterable[str]) -> set[str]:
        """Of these local streams, those another instance asked to cancel."""
        return set()

    async def signal_cancel(self, stream_id: str) -> bool:
        """Ask the instance running `stream_id` to cancel it. Returns whether it exists."""
        return False

    @abstractmethod
    async def delete(self, stream_id: str) -> None:
        """Drop a stream's buffer before its retention ends (a withdrawn participant's)."""

    async def start(self, on_cancel: Callable[[str], None]) -> None:  # noqa: B027
        """Begin listening for cancel signals from other instances."""

    async def close(self) -> None:  # noqa: B027
        """Stop listening; release connections."""

    def sweep(self) -> None:  # noqa: B027
        """Drop buffers whose retention ended."""


@dataclass
class _Buffer:
    frames: list[Frame] = field(default_factory=list)
    waiters: list[asyncio.Future[bool]] = field(default_factory=list)
    readers: int = 0
    detached_at: float | None = None
    expires_at: float | None = None

    @property
    def finished(self) -> bool:
        return bool(self.frames) and self.frames[-1].terminal

    def wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(False)


def _beat(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(True)


class MemoryStreamStore(StreamStore):
    """In-process buffers: one instance serves its own streams."""

    def __init__(self, *, retention: float) -> None:
        super().__init__(retention=retention)
        self._buffers: dict[str, _Buffer] = {}

    def create(self, stream_id: str) -> None:
        # The creating request is the first reader: the detach clock starts now.
        self._buffers[stream_id] = _Buffer(detached_at=time.monotonic())

    def has(self, stream_id: str) -> bool:
        return stream_id in self._buffers

    def append_now(self, stream_id: str, body: StreamFrame | dict[str, Any]) -> Frame:
        buffer = self._buffers[stream_id]
        frame_id = len(buffer.frames) + 1
        if isinstance(body, dict):
            frame = Frame(id=frame_id, type=body["type"], data=body)
        else:
            frame = Frame.of(frame_id, body)
        buffer.frames.append(frame)
        if frame.terminal:
            buffer.expires_at = time.monotonic() + self.retention
        buffer.wake()
        return frame

    async def append(self, stream_id: str, frame: StreamFrame | dict[str, Any]) -> Frame:
        return self.append_now(stream_id, frame)

    async def exists(self, stream_id: str) -> bool:
        return stream_id in self._buffers

    async def first(self, stream_id: str) -> Frame | None:
        buffer = self._buffers.get(stream_id)
        return buffer.frames[0] if buffer is not None and buffer.frames else None

    async def subscribe(
        self, stream_id: str, after: int, *, heartbeat: float
    ) -> AsyncIterator[Frame | None]:
        buffer = self._buffers.get(stream_id)
        if buffer is None:
            return
        buffer.readers += 1
        try:
            index = max(0, after)
            loop = asyncio.get_running_loop()
            while True:
                while index < len(buffer.frames):
                    frame = buffer.frames[index]
                    index += 1
                    yield frame
                    if frame.terminal:
                        return
                # A frame resolves the waiter with False, the heartbeat timer with True
                # (cheaper per frame than an asyncio.timeout scope).
                waiter: asyncio.Future[bool] = loop.create_future()
                buffer.waiters.append(waiter)
                timer = loop.call_later(heartbeat, _beat, waiter)
                try:
                    beat = await waiter
                finally:
                    timer.cancel()
                if beat:
                    yield Heartbeat
        finally:
            buffer.readers -= 1
            if buffer.readers == 0:
                buffer.detached_at = time.monotonic()

    def readers(self, stream_id: str) -> int:
        buffer = self._buffers.get(stream_id)
        return buffer.readers if buffer else 0

    def recently_attached(self, stream_id: str) -> bool:
        buffer = self._buffers.get(stream_id)
        if buffer is None:
            return False
        if buffer.readers > 0:
            return True
        detached = buffer.detached_at or 0.0
        return time.monotonic() - detached < self.retention

    async def detached_streams(self, stream_ids: Iterable[str]) -> set[str]:
        return {s for s in stream_ids if not self.recently_attached(s)}

    def sweep(self) -> None:
        now = time.monotonic()
        expired = [
            k for k, b in self._buffers.items() if b.expires_at is not None and b.expires_at < now
        ]
        for key in expired:
            buffer = self._buffers.pop(key)
            buffer.wake()

    async def delete(self, stream_id: str) -> None:
        self.drop(stream_id)

    def drop(self, stream_id: str) -> None:
        buffer = self._buffers.pop(stream_id, None)
        if buffer is not None:
            buffer.wake()

    def __len__(self) -> int:
        return len(self._buffers)
