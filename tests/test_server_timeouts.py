"""Slow clients cannot pin the server: raw sockets against a real uvicorn with the options of
`llm-platform serve` (header timeout, body stall timeout, header size bound)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from llm_platform.core.config import Settings
from llm_platform.server import MAX_HEADER_BYTES, uvicorn_options
from tests.support.processes import free_port, serve
from tests.support.uvicorn_server import run_server

HEADER_S = 1.0
BODY_S = 1.0

disconnects: list[str] = []


async def echo(request: Request) -> PlainTextResponse:
    try:
        body = await request.body()
    except ClientDisconnect:
        disconnects.append(request.url.path)
        return PlainTextResponse("gone")
    return PlainTextResponse(f"got {len(body)}")


async def slow(_: Request) -> PlainTextResponse:
    await asyncio.sleep(HEADER_S + BODY_S + 0.5)  # the app may take its time
    return PlainTextResponse("slow but fine")


app = Starlette(routes=[Route("/echo", echo, methods=["POST"]), Route("/slow", slow)])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        HEADER_TIMEOUT_SECONDS=HEADER_S,
        BODY_TIMEOUT_SECONDS=BODY_S,
        KEEP_ALIVE_SECONDS=HEADER_S,
    )
    with run_server(app, **uvicorn_options(settings)) as address:
        yield address


def _connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=10)
    return sock


def _read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes; and when it closed (monotonic)."""
    data = b""
    while True:
        try:
            block = sock.recv(65536)
        except ConnectionResetError:
            block = b""
        if not block:
            return data, time.monotonic()
        data += block


def test_partial_header_sent_slowly_is_cut_at_the_header_timeout(
    server: tuple[str, int],
) -> None:
    sock = _connect(server)
    started = time.monotonic()
    sock.settimeout(0.25)
    sent = 0
    closed_at = None
    # A byte every 0.25 s (slowloris): the headers never complete.
    for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
        try:
            sock.send(bytes([byte]))
            sent += 1
            sock.recv(65536)  # the 408, or the close
        except TimeoutError:
            continue  # nothing from the server yet: next byte
        except (BrokenPipeError, ConnectionResetError):
            pass
        closed_at = time.monotonic()
        break
    assert closed_at is not None, "the server kept the slow connection open"
    elapsed = closed_at - started
    print(f"slow header closed after {elapsed:.2f} s ({sent} bytes sent)")
    assert HEADER_S * 0.9 <= elapsed < HEADER_S + 1.0


def test_silent_connection_is_closed_with_408(server: tuple[str, int]) -> None:
    sock = _connect(server)
    started = time.monotonic()
    data, closed_at = _read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 408"), data
    assert HEADER_S * 0.9 <= closed_at - started < HEADER_S + 1.0


def test_stalled_body_is_cut_at_the_body_timeout(server: tuple[str, int]) -> None:
    disconnects.clear()
    sock = _connect(server)
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
    started = time.monotonic()
    data, closed_at = _read_until_closed(sock)
    elapsed = closed_at - started
    print(f"stalled body closed after {elapsed:.2f} s")
    assert data == b""
    assert BODY_S * 0.9 <= elapsed < BODY_S + 1.0
    deadline = time.monotonic() + 2
    while not disconnects and time.monotonic() < deadline:
        time.sleep(0.02)
    assert disconnects == ["/echo"]  # the app saw the client go


def test_slow_but_steady_body_is_read_whole(server: tuple[str, int]) -> None:
    sock = _connect(server)
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n")
    for _ in range(6):  # 6 x 0.4 s = 2.4 s in all, longer than the timeout, never idle that long
        time.sleep(0.4)
        sock.sendall(b"y")
    sock.settimeout(5)
    response = sock.recv(65536)
    assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"got 6"), response


def test_slow_app_and_keep_alive_are_not_cut(server: tuple[str, int]) -> None:
    sock = _connect(server)
    sock.settimeout(10)
    for _ in range(2):  # two requests on one kept-alive connection
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        response = b""
        while not response.endswith(b"slow but fine"):
            block = sock.recv(65536)
            assert block, "connection closed during a slow response"
            response += block
        assert response.startswith(b"HTTP/1.1 200")


def test_oversized_headers_are_431(server: tuple[str, int]) -> None:
    sock = _connect(server)
    big = b"X-Big: " + b"a" * (MAX_HEADER_BYTES + 10) + b"\r\n"
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    data, _ = _read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 431"), data[:100]


@pytest.mark.slow
def test_llm_platform_serve_applies_the_timeouts(tmp_path: Path) -> None:
    """The real `llm-platform serve` process: a silent connection and a slow header are
    closed after HEADER_TIMEOUT_SECONDS, /docs still works (from packaged assets)."""
    port = free_port()
    with serve(tmp_path, port, HEADER_TIMEOUT_SECONDS="1", BODY_TIMEOUT_SECONDS="1"):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")  # never finished
        started = time.monotonic()
        data, closed_at = _read_until_closed(sock)
        assert data.startswith(b"HTTP/1.1 408"), data
        assert closed_at - started < 2.0
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
        started = time.monotonic()
        data, closed_at = _read_until_closed(sock)
        assert closed_at - started < 2.0
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
