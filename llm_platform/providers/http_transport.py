"""A lean HTTP/1.1 transport for the `openai` SDK's httpx2 client (the SDK's documented
`http_client` extension point).

The SDK still builds every request (auth, headers, body, timeouts) and reads every response
(status errors, bodies): only the bytes on the wire are moved here, by an asyncio protocol
and the `httptools` parser (llhttp, the parser uvicorn serves with) instead of aiohttp's or
httpcore's stacks. On the gateway path a streamed call then costs about half the CPU of the
SDK's aiohttp transport (bench/gateway.py).

What it does: keep-alive connections pooled per origin (an idle connection is dropped after
`keepalive_expiry` seconds, before common servers' own 5 s timeout), at most
`max_connections_per_origin` sockets per origin (a request beyond waits for one, up to the
request's pool timeout), TLS with httpx2's
default context, chunked and length-delimited bodies and bodies ended by the connection's
close, request bodies given whole or as a stream (sent chunked), connect/read/write timeouts
from the request (httpx2 timeout errors, which the SDK turns into `APITimeoutError`), read
back-pressure. What it does not: HTTP/2, proxies, upgrades, HEAD requests (the SDKs send
none). Proxies are honoured by rule instead: when the environment's proxy settings
(HTTP_PROXY / HTTPS_PROXY / ALL_PROXY, minus NO_PROXY) apply to an upstream, `uses_proxy`
says so and the adapter keeps the SDK's stock client, which sends through the proxy
(docs/providers.md).

A request on a reused connection that fails before any byte of the answer (the server closed
the idle connection just as it was picked) is sent again once on a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import urllib.request
from collections import deque
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httptools
import httpx2

_READ_HIGH_WATER = 1 << 20  # pause the socket once this many unread body bytes are held
_DEFAULT_PORTS = {b"http": 80, b"https": 443}

Origin = tuple[bytes, bytes, int]


def uses_proxy(url: str) -> bool:
    """Whether the environment's proxy settings send requests to `url` through a proxy
    (HTTP_PROXY / HTTPS_PROXY / ALL_PROXY, either case, with NO_PROXY's exceptions): the
    rule that keeps this transport off such upstreams (it speaks to origins only)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme.lower()) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.netloc)


class _StaleConnection(Exception):
    """A reused connection closed before the answer began: safe to send again."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: write a request, parse its response as it arrives."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.requests = 0
        self.idle_since = 0.0
        self._writable: asyncio.Future[None] | None = None
        self.paused = False  # reading paused for back-pressure
        self._reset_response()

    def _reset_response(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.transport.resume_reading()  # the last answer's unread rest was dropped
        self.got_bytes = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False
        self.error: Exception | None = None
        self.body: deque[bytes] = deque()
        self.buffered = 0
        self.paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._length_known = False
        self.keep_alive = False

    # --- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx2.RemoteProtocolError(f"invalid HTTP response: {exc}"))
            self.close()

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.complete:
            self._wake()
            return
        if self.head_done and not self._length_known:
            self.complete = True  # a body delimited by the connection's close
        elif not self.got_bytes and self.requests > 1:
            self._fail(_StaleConnection())
        elif not self.got_bytes:
            self._fail(httpx2.RemoteProtocolError("server closed the connection without answering"))
        else:
            self._fail(httpx2.RemoteProtocolError("server closed the connection mid-response"))
        self._wake()

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    # --- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.headers = []  # an interim answer (100 Continue): the real one follows
            return
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"content-length" or (
                lowered == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                self._length_known = True
        self.head_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self.buffered += len(body)
        if self.buffered > _READ_HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.head_done:
            self.keep_alive = self.parser.should_keep_alive()
            self.complete = True
            self._wake()

    # --- used by the transport
    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _wait(self, within: float | None) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(within):
                await self._waiter
        except TimeoutError:
            self.close()
            raise httpx2.ReadTimeout("timed out waiting for the server") from None
        finally:
            self._waiter = None

    async def send(self, request: httpx2.Request, timeouts: dict[str, float | None]) -> None:
        assert self.transport is not None
        self._reset_response()
        self.requests += 1
        head = [request.method.encode(), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
        chunked = False
        for name, value in request.headers.raw:
            head += (name, b": ", value, b"\r\n")
            if name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True  # httpx2 says so for a stream of unknown length
        head.append(b"\r\n")
        try:
            body: bytes | None = request.content
        except httpx2.RequestNotRead:
            body = None
        if body is not None:
            self.transport.write(b"".join(head) + body)
        else:
            self.transport.write(b"".join(head))
            stream = request.stream
            assert isinstance(stream, httpx2.AsyncByteStream)
            async for piece in stream:
                if piece:
                    framed = b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece
                    self.transport.write(framed)
                    await self._drain(timeouts.get("write"))
            if chunked:
                self.transport.write(b"0\r\n\r\n")
        await self._drain(timeouts.get("write"))

    async def _drain(self, within: float | None) -> None:
        if self._writable is None or self._writable.done():
            return
        try:
            async with asyncio.timeout(within):
                await asyncio.shield(self._writable)
        except TimeoutError:
            self.close()
            raise httpx2.WriteTimeout("timed out sending the request") from None

    async def read_head(self, within: float | None) -> None:
        while not self.head_done:
            if self.error is not None:
                raise self.error
            if self.closed:
                raise httpx2.RemoteProtocolError("server closed the connection")
            await self._wait(within)

    async def body_chunks(self, within: float | None) -> AsyncIterator[bytes]:
        while True:
            if self.body:
                piece = b"".join(self.body)
                self.body.clear()
                self.buffered = 0
                if self.paused and self.transport is not None and not self.closed:
                    self.paused = False
                    self.transport.resume_reading()
                yield piece
                continue
            if self.complete:
                return
            if self.error is not None:
                raise self.error
            await self._wait(within)

    @property
    def reusable(self) -> bool:
        return self.complete and not self.closed and self.error is None and self.keep_alive

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _ResponseBody(httpx2.AsyncByteStream):
    def __init__(
        self, pool: LeanTransport, connection: _Connection, read_timeout: float | None
    ) -> None:
        self.pool = pool
        self.connection = connection
        self.read_timeout = read_timeout
        self.done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for piece in self.connection.body_chunks(self.read_timeout):
            yield piece

    async def aclose(self) -> None:
        if self.done:
            return
        self.done = True
        self.pool.release(self.connection)


class LeanTransport(httpx2.AsyncBaseTransport):
    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_expiry: float = 4.0,
        max_idle_per_origin: int = 100,
        max_connections_per_origin: int = 256,
    ) -> None:
        self.ssl_context = ssl_context
        self.keepalive_expiry = keepalive_expiry
        self.max_idle = max_idle_per_origin
        self.max_connections = max_connections_per_origin
        self.idle: dict[Origin, list[_Connection]] = {}
        # A slot per connection in use: a socket is opened only when no idle one is left, so
        # in-use plus idle sockets never pass the bound.
        self._slots: dict[Origin, asyncio.Semaphore] = {}
        self.closed = False

    def _ssl(self) -> ssl.SSLContext:
        if self.ssl_context is None:
            self.ssl_context = httpx2.create_ssl_context()
        return self.ssl_context

    def _idle_connection(self, origin: Origin) -> _Connection | None:
        pool = self.idle.get(origin)
        now = time.monotonic()
        while pool:
            connection = pool.pop()  # most recently used first: the warmest
            if not connection.closed and now - connection.idle_since < self.keepalive_expiry:
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin, within: float | None) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        hostname = host.decode("ascii")
        tls = self._ssl() if scheme == b"https" else None
        try:
            async with asyncio.timeout(within):
                _, connection = await loop.create_connection(
                    lambda: _Connection(origin),
                    hostname,
                    port,
                    ssl=tls,
                    server_hostname=hostname if tls is not None else None,
                )
        except TimeoutError:
            raise httpx2.ConnectTimeout(f"timed out connecting to {hostname}:{port}") from None
        except OSError as exc:
            raise httpx2.ConnectError(f"could not connect to {hostname}:{port}: {exc}") from exc
        return connection

    async def _take_slot(self, origin: Origin, within: float | None) -> None:
        slots = self._slots.get(origin)
        if slots is None:
            slots = self._slots[origin] = asyncio.Semaphore(self.max_connections)
        if not slots.locked():
            await slots.acquire()  # free: no suspension
            return
        try:
            async with asyncio.timeout(within):
                await slots.acquire()
        except TimeoutError:
            raise httpx2.PoolTimeout(
                f"timed out waiting for one of {self.max_connections} connections"
            ) from None

    def release(self, connection: _Connection) -> None:
        """Back to the pool if its answer was read to the end, else closed; its slot is
        free again either way."""
        self._slots[connection.origin].release()
        pool = self.idle.setdefault(connection.origin, [])
        if self.closed or not connection.reusable or len(pool) >= self.max_idle:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        pool.append(connection)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx2.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        origin: Origin = (scheme, url.raw_host, url.port or _DEFAULT_PORTS[scheme])
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        await self._take_slot(origin, timeouts.get("pool"))
        try:
            connection = await self._exchange(request, origin, timeouts)
        except BaseException:
            self._slots[origin].release()
            raise
        return httpx2.Response(
            connection.parser.get_status_code(),
            headers=connection.headers,
            stream=_ResponseBody(self, connection, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1"},
            request=request,
        )

    async def _exchange(
        self, request: httpx2.Request, origin: Origin, timeouts: dict[str, float | None]
    ) -> _Connection:
        """Send the request and read the answer's head, on a pooled connection or a new one
        (once more on a new one if a pooled one turns out closed)."""
        for attempt in range(2):
            connection = self._idle_connection(origin)
            if connection is None:
                connection = await self._connect(origin, timeouts.get("connect"))
            try:
                await connection.send(request, timeouts)
                await connection.read_head(timeouts.get("read"))
            except _StaleConnection:
                connection.close()
                if attempt == 0:
                    continue
                raise httpx2.RemoteProtocolError("server closed the connection") from None
            except BaseException:
                connection.close()
                raise
            return connection
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        self.closed = True
        for pool in self.idle.values():
            for connection in pool:
                with contextlib.suppress(Exception):
                    connection.close()
        self.idle.clear()
