"""A tiny HTTP/1.1 server on 127.0.0.1 for faking LLM vendors over real sockets.

It runs its own asyncio loop in a background thread, so it serves sync and async tests
alike (and an app under test in another loop or thread). Vendor fakes subclass it and turn
a `Request` into a `Reply`: a plain body, or a streamed body (chunked transfer encoding)
with delays between chunks, optionally held open or cut mid-stream.

What tests can observe:
  * `requests`: every request received (method, path, query, headers, body);
  * `client_disconnected`: set when a client goes away before a streamed reply finished,
    with `disconnected_at` (time.monotonic()) — how "the consumer stopped, so the upstream
    connection was closed" is asserted.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from tests.support.fake_servers.scenario import Scenario

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    529: "Overloaded",
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # A streamed reply: each item is written as one chunk (chunked transfer encoding).
    chunks: list[bytes] | None = None
    first_delay: float = 0.0  # before the first chunk
    delay: float = 0.0  # between chunks
    hold_open: bool = False  # after the chunks, wait until the client disconnects
    drop: bool = False  # after the chunks, cut the connection without finishing

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(
            status=status,
            headers={"content-type": "application/json", **(headers or {})},
            body=json.dumps(payload).encode(),
        )


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event (JSON data unless already a string)."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


class FakeServer:
    """Subclasses implement `handle(request) -> Reply`."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.client_disconnected = threading.Event()
        self.disconnected_at: float | None = None
        self._queued: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ scripting

    def queue(self, *replies: Reply) -> None:
        """Replies served, in order, before `handle` is asked again."""
        with self._lock:
            self._queued.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._queued.clear()
            self.requests.clear()
        self.client_disconnected.clear()
        self.disconnected_at = None

    def handle(self, request: Request) -> Reply:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _reply_for(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._queued:
                return self._queued.popleft()
        return self.handle(request)

    def wait_disconnect(self, timeout: float) -> bool:
        return self.client_disconnected.wait(timeout)

    async def until_disconnected(self, within: float) -> bool:
        """Async-friendly wait (up to `within` seconds) for a client to abandon a stream."""
        deadline = time.monotonic() + within
        while not self.client_disconnected.is_set():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    # ------------------------------------------------------------------ HTTP

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    return
                reply = self._reply_for(request)
                if not await self._write_reply(reply, reader, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        line = await reader.readline()
        if not line.strip():
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            raw = await reader.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await reader.readline()
                    break
                parts.append(await reader.readexactly(size))
                await reader.readline()
            body = b"".join(parts)
        split = urlsplit(target)
        return Request(method, split.path, dict(parse_qsl(split.query)), headers, body)

    async def _write_reply(
        self, reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Write `reply`; False when the connection must not be reused."""
        status = f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}\r\n"
        headers = dict(reply.headers)
        if reply.chunks is None:
            headers["content-length"] = str(len(reply.body))
            writer.write(status.encode() + _head(headers) + reply.body)
            await writer.drain()
            return True
        headers.setdefault("content-type", "text/event-stream")
        headers["transfer-encoding"] = "chunked"
        headers.setdefault("cache-control", "no-cache")
        writer.write(status.encode() + _head(headers))
        await writer.drain()
        # The client sends nothing while it reads a response: EOF here means it left.
        eof = asyncio.ensure_future(reader.read(1))
        try:
            for index, chunk in enumerate(reply.chunks):
                pause = reply.first_delay if index == 0 else reply.delay
                if pause and await _closed_within(eof, pause):
                    return self._left()
                if eof.done():
                    return self._left()
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
            if reply.drop:
                writer.transport.abort()
                return False
            if reply.hold_open:
                await eof
                return self._left()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        except ConnectionError:
            return self._left()
        finally:
            if not eof.done():
                eof.cancel()

    def _left(self) -> bool:
        self.disconnected_at = time.monotonic()
        self.client_disconnected.set()
        return False


async def _closed_within(eof: asyncio.Future[bytes], seconds: float) -> bool:
    done, _ = await asyncio.wait({eof}, timeout=seconds)
    return bool(done)


def _head(headers: dict[str, str]) -> bytes:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (lines + "\r\n").encode()


class FakeVendor(FakeServer):
    """A vendor's fake: the key it accepts, the models it knows and the scenario it answers
    with; `reset` restores all three (queued failures included)."""

    def __init__(self, *, api_key: str | None, models: tuple[str, ...]) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = list(models)
        self._initial_models = tuple(models)
        self.scenario = Scenario()

    def reset(self) -> None:
        super().reset()
        self.scenario = Scenario()
        self.models = list(self._initial_models)

    @property
    def base_url(self) -> str:
        """What the SDK's base URL should be."""
        return self.url
