"""How `llm-platform serve` runs uvicorn, and the guard against slow clients.

uvicorn bounds the idle time between two requests of a kept-alive connection
(`timeout_keep_alive`) but nothing else: a connection that sends no request, or its headers
a byte at a time (slowloris), or a body that stalls, holds a connection and its memory for
ever. `GuardedHttpToolsProtocol` is uvicorn's own HTTP/1.1 protocol (httptools) with three
timers and one size bound added:

- the request line and headers must arrive within HEADER_TIMEOUT_SECONDS of the
  connection opening or of the request's first byte (else `408` and the connection closes);
- a request body may not stall longer than BODY_TIMEOUT_SECONDS between two reads (time
  the app itself leaves the body unread does not count); the connection is closed and the
  app sees the client disconnect;
- request line and headers together may not pass MAX_HEADER_BYTES (else `431`).

Behind a reverse proxy these are a second line: the proxy's own timeouts come first
(docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from llm_platform.core.config import Settings, load_settings

MAX_HEADER_BYTES = 64 * 1024
# GIL switch interval of a process serving a SQLite database (see `configure_process`).
SQLITE_SWITCH_INTERVAL_S = 0.0005


def _raw_response(status: bytes, message: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: "
        + str(len(message)).encode()
        + b"\r\nconnection: close\r\n\r\n"
        + message
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    # Set by `configure_timeouts` (the serving process); a worker process started by
    # uvicorn reads them from the settings on its first connection.
    header_timeout: float | None = None
    body_timeout: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cls = type(self)
        if cls.header_timeout is None or cls.body_timeout is None:
            configure_process(load_settings())  # a worker process started by uvicorn
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._in_headers = False

    # --- timers
    def _cancel(self, timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()

    def _arm_header_timer(self) -> None:
        self._cancel(self._header_timer)
        assert self.header_timeout is not None
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_expired)

    def _arm_body_timer(self) -> None:
        self._cancel(self._body_timer)
        assert self.body_timeout is not None
        self._body_timer = self.loop.call_later(self.body_timeout, self._body_expired)

    def _header_expired(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(_raw_response(b"408 Request Timeout", b"Request header timeout"))
            self.transport.close()

    def _body_expired(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        if self.flow is not None and self.flow.read_paused:
            self._arm_body_timer()  # the app has not read what came: not the client's fault
            return
        self.transport.close()

    # --- protocol and parser callbacks
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()  # a connection that never sends a request is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel(self._header_timer)
        self._cancel(self._body_timer)
        self._header_timer = self._body_timer = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._in_headers = True
        if self._header_timer is None:
            self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value))
        super().on_header(name, value)

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
            self.transport.write(
                _raw_response(b"431 Request Header Fields Too Large", b"Request headers too large")
            )
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._cancel(self._header_timer)
        self._header_timer = None
        if self.transport.is_closing():
            return
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self._arm_body_timer()

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self._body_timer is not None:
            self._arm_body_timer()

    def on_message_complete(self) -> None:
        self._cancel(self._body_timer)
        self._body_timer = None
        super().on_message_complete()


def configure_process(settings: Settings) -> None:
    """What the serving process (each worker) sets for itself, once, before it serves.

    With SQLite, every statement is a few round trips to the connection's aiosqlite thread,
    and each one needs the GIL back from the event loop thread. While the loop is busy
    (parsing the next batches) it keeps the GIL for the whole switch interval, 5 ms by
    default, so the write transaction, and every writer queued behind it, waits. A shorter
    interval keeps those hand-overs short. Process-wide, so set here rather than by the
    engine (which tests and tools build too)."""
    configure_timeouts(settings)
    if settings.is_sqlite:
        sys.setswitchinterval(min(sys.getswitchinterval(), SQLITE_SWITCH_INTERVAL_S))


def configure_timeouts(settings: Settings) -> None:
    GuardedHttpToolsProtocol.header_timeout = settings.HEADER_TIMEOUT_SECONDS
    GuardedHttpToolsProtocol.body_timeout = settings.BODY_TIMEOUT_SECONDS


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn options of `llm-platform serve` for slow clients (see the module doc); also
    configures this process (`configure_process`)."""
    configure_process(settings)
    return {
        "http": GuardedHttpToolsProtocol,
        "timeout_keep_alive": settings.KEEP_ALIVE_SECONDS,
        **proxy_options(settings),
    }


def proxy_options(settings: Settings) -> dict[str, Any]:
    """X-Forwarded-For is believed only from TRUSTED_PROXIES (uvicorn rewrites the client
    address then; the rate limits count that address)."""
    if not settings.TRUSTED_PROXIES:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(settings.TRUSTED_PROXIES)}
