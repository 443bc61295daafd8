"""The lean transport against an HTTP server the project did not write (uvicorn, in-process
on a free port): chunked bodies, keep-alive reuse, the server closing connections, a
streamed response, the bound on connections per origin; and the proxy rule that hands
proxied upstreams to the SDK's stock client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import orjson
import pytest
import uvicorn

from llm_platform.providers.base import ChatMessage, ChatRequest, TextDelta
from llm_platform.providers.http_transport import LeanTransport, uses_proxy
from llm_platform.providers.openai_compatible import OpenAICompatibleProvider
from llm_platform.providers.sse import aiter_events

Scope = dict[str, Any]


class App:
    """A small ASGI app; it records the client port of every request (one port, one
    socket) and how many requests it is serving at once."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        self.hosts: list[str] = []
        self.active = 0
        self.most_active = 0
        self.gate = asyncio.Event()  # /wait answers once it is set
        self.changed = asyncio.Condition()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.ports.append(scope["client"][1])
        self.hosts.append(dict(scope["headers"]).get(b"host", b"").decode())
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        async with self.changed:
            self.changed.notify_all()
        try:
            await self.route(scope, send)
        finally:
            self.active -= 1

    async def serving(self, count: int) -> None:
        """Until `count` requests are being served at once."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.active >= count)

    async def route(self, scope: Scope, send: Any) -> None:
        path = scope["path"]
        if path == "/chunked":  # no length: uvicorn sends Transfer-Encoding: chunked
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for piece in (b"one,", b"two,", b"three"):
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/close":  # answered, then uvicorn closes the connection
            await self.whole(send, b"bye", [(b"connection", b"close")])
        elif path == "/wait":
            await self.gate.wait()
            await self.whole(send, b"waited")
        elif path == "/stream":  # the second event only after the client saw the first
            headers = [(b"content-type", b"text/event-stream")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send(
                {"type": "http.response.body", "body": b"data: first\n\n", "more_body": True}
            )
            await self.gate.wait()
            await send({"type": "http.response.body", "body": b"data: second\n\n"})
        elif path.endswith("/chat/completions"):
            chunk = {"choices": [{"index": 0, "delta": {"content": "via " + self.hosts[-1]}}]}
            body = b"data: " + orjson.dumps(chunk) + b"\n\ndata: [DONE]\n\n"
            await self.whole(send, body, [(b"content-type", b"text/event-stream")])
        else:
            await self.whole(send, b'{"ok":true}')

    async def whole(
        self, send: Any, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers or []})
        await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def uvicorn_serving(app: App, keep_alive: float = 5.0) -> AsyncIterator[str]:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        timeout_keep_alive=keep_alive,  # type: ignore[arg-type]
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def client(url: str, transport: LeanTransport | None = None) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        base_url=url, transport=transport or LeanTransport(), timeout=httpx2.Timeout(5.0)
    )


async def test_chunked_body_and_keep_alive_reuse_one_socket() -> None:
    app = App()
    async with uvicorn_serving(app) as url, client(url) as http:
        first = await http.get("/chunked")
        second = await http.get("/json")
    assert first.status_code == 200 and first.headers["transfer-encoding"] == "chunked"
    assert first.content == b"one,two,three"
    assert second.json() == {"ok": True}
    assert len(app.ports) == 2 and app.ports[0] == app.ports[1]  # the same socket


async def test_connection_closed_by_the_server_is_replaced_transparently() -> None:
    app = App()
    async with uvicorn_serving(app) as url, client(url) as http:
        assert (await http.get("/close")).content == b"bye"  # `Connection: close`
        assert (await http.get("/json")).json() == {"ok": True}
    assert app.ports[0] != app.ports[1]


async def test_idle_connection_closed_by_the_server_between_requests() -> None:
    app = App()
    transport = LeanTransport(keepalive_expiry=60.0)  # we would keep it: the server does not
    async with uvicorn_serving(app, keep_alive=0.2) as url, client(url, transport) as http:
        assert (await http.get("/json")).status_code == 200
        await asyncio.sleep(0.6)  # uvicorn closes the idle connection meanwhile
        assert (await http.get("/json")).json() == {"ok": True}
        assert (await http.get("/json")).json() == {"ok": True}
    assert app.ports[0] != app.ports[1] and app.ports[1] == app.ports[2]


async def test_streamed_response_arrives_as_it_is_sent() -> None:
    app = App()
    async with (
        uvicorn_serving(app) as url,
        client(url) as http,
        http.stream("GET", "/stream") as response,
    ):
        events = aiter_events(response.aiter_bytes())
        first = await anext(events)
        assert first.data == b"first"  # before the server may send the rest
        app.gate.set()
        assert [e.data async for e in events] == [b"second"]


async def test_requests_beyond_the_connection_bound_wait_for_a_free_one() -> None:
    app = App()
    transport = LeanTransport(max_connections_per_origin=2)
    async with uvicorn_serving(app) as url, client(url, transport) as http:
        calls = [asyncio.create_task(http.get("/wait")) for _ in range(5)]
        await app.serving(2)
        await asyncio.sleep(0.2)
        assert app.active == 2  # the other three wait in the transport, not on new sockets
        app.gate.set()
        answers = await asyncio.gather(*calls)
    assert [a.content for a in answers] == [b"waited"] * 5
    assert app.most_active == 2 and len(set(app.ports)) == 2


async def test_waiting_for_a_connection_ends_at_the_pool_timeout() -> None:
    app = App()
    transport = LeanTransport(max_connections_per_origin=1)
    async with uvicorn_serving(app) as url, client(url, transport) as http:
        holder = asyncio.create_task(http.get("/wait"))
        await app.serving(1)
        with pytest.raises(httpx2.PoolTimeout):
            await http.get("/json", timeout=httpx2.Timeout(5.0, pool=0.2))
        app.gate.set()
        assert (await holder).content == b"waited"
        assert (await http.get("/json")).status_code == 200  # the slot came back


# ------------------------------------------------------------------ proxies


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def test_the_proxy_rule_reads_the_environment(no_proxy_env: pytest.MonkeyPatch) -> None:
    assert not uses_proxy("https://api.openai.com/v1")
    no_proxy_env.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    no_proxy_env.setenv("NO_PROXY", "localhost,.internal.example")
    assert uses_proxy("https://api.openai.com/v1")
    assert not uses_proxy("http://api.openai.com/v1")  # HTTPS_PROXY only covers https
    assert not uses_proxy("https://llm.internal.example/v1")
    assert not uses_proxy("http://localhost:11434/v1")
    no_proxy_env.setenv("all_proxy", "http://proxy.corp:3128")
    assert uses_proxy("http://vllm.lan:8000/v1")


def request() -> ChatRequest:
    return ChatRequest(model="m", messages=[ChatMessage(role="user", content="hi")])


async def answer(provider: OpenAICompatibleProvider) -> str:
    try:
        events = [e async for e in provider.stream(request())]
    finally:
        await provider.aclose()
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_a_proxied_upstream_goes_through_the_proxy_with_the_stock_client(
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    """The upstream's name does not resolve: the answer can only come through the proxy
    (here uvicorn answering in the upstream's place)."""
    app = App()
    async with uvicorn_serving(app) as proxy_url:
        no_proxy_env.setenv("HTTP_PROXY", proxy_url)
        provider = OpenAICompatibleProvider(
            name="corp", base_url="http://upstream.invalid/v1", default_model="m"
        )
        transport = provider.client._client._transport  # type: ignore[attr-defined]
        assert not isinstance(transport, LeanTransport)
        assert await answer(provider) == "via upstream.invalid"


async def test_no_proxy_keeps_the_lean_transport_and_goes_direct(
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    app = App()
    async with uvicorn_serving(app) as url:
        no_proxy_env.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
        provider = OpenAICompatibleProvider(name="lan", base_url=f"{url}/v1", default_model="m")
        transport = provider.client._client._transport  # type: ignore[attr-defined]
        assert isinstance(transport, LeanTransport)
        assert await answer(provider) == f"via {url.removeprefix('http://')}"
