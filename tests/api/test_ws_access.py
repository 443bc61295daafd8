"""The query WebSocket under the access model: the same authentication as HTTP, every query
counted against the rate limits, and a revoked key ends the socket and its generations."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import websockets

from llm_platform.core.config import Settings
from llm_platform.providers.base import TextDelta
from llm_platform.providers.scripted import Hang
from llm_platform.services.users import create_user_with_key
from tests.support.query import FAST, live_server

QUERY = {"type": "query", "query": "hi", "model_provider": "scripted"}


@pytest.fixture
def database_url(tmp_path: Any) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


async def _recv(ws: Any) -> dict[str, Any]:
    return dict(orjson.loads(await asyncio.wait_for(ws.recv(), 5)))


async def _until_end(ws: Any) -> list[dict[str, Any]]:
    got = []
    while True:
        msg = await _recv(ws)
        got.append(msg)
        if msg["type"] in ("done", "error"):
            return got


async def test_every_query_on_a_socket_counts(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(**FAST, TRUST_CLIENT_USER_ID=False, RATE_LIMIT_PER_MINUTE=3)
    async with live_server(settings) as (url, app):
        token = app.state.platform.tokens.issue("p-ws1")
        ws_url = url.replace("http", "ws") + f"/api/v1/ws/query?token={token}"
        async with websockets.connect(ws_url) as ws:  # the connection counts once
            for _ in range(2):
                await ws.send(orjson.dumps(QUERY))
                assert (await _until_end(ws))[-1]["type"] == "done"
            await ws.send(orjson.dumps({**QUERY, "ref": "third"}))
            rejected = await _recv(ws)
            assert rejected["type"] == "error" and rejected["http_status"] == 429
            assert rejected["ref"] == "third"


async def test_sockets_need_an_identity(make_settings: Callable[..., Settings]) -> None:
    async with live_server(make_settings(**FAST, TRUST_CLIENT_USER_ID=False)) as (url, _):
        base = url.replace("http", "ws") + "/api/v1/ws/query"
        for suffix in ("", "?user_id=someone", "?token=pt_forged.sig", "?api_key=lp_nope"):
            with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
                async with websockets.connect(base + suffix) as ws:
                    await ws.recv()
            assert refused.value.response.status_code == 403  # closed before the handshake


async def test_revoked_key_ends_the_socket_and_its_generation(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(**FAST, AUTH_MODE="api_key", WS_REAUTH_SECONDS=0.2)
    async with live_server(settings) as (url, app):
        db = app.state.platform.db
        async with db.write_sessions() as session, session.begin():
            issued = await create_user_with_key(session, "pat", role="participant")
        provider = app.state.platform.query.registry.get("scripted")
        provider.queue([TextDelta(text="x"), Hang()])
        ws_url = url.replace("http", "ws") + f"/api/v1/ws/query?api_key={issued.key}"
        async with websockets.connect(ws_url) as ws:
            await ws.send(orjson.dumps(QUERY))
            assert (await _recv(ws))["type"] == "start"
            async with db.write_sessions() as session, session.begin():
                from llm_platform.db.repositories.users import ApiKeyRepository

                assert await ApiKeyRepository(session).revoke(issued.key_id) == 1
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                while True:
                    await _recv(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        for _ in range(50):
            if provider.last.outcome == "cancelled":
                break
            await asyncio.sleep(0.05)
        assert provider.last.outcome == "cancelled"
