"""Streams over real sockets: cancel, resume with Last-Event-ID, dropped clients, the
WebSocket, and two app instances sharing Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
import websockets

from llm_platform.core.config import Settings
from llm_platform.providers.base import DoneEvent, ReasoningDelta, TextDelta
from llm_platform.providers.scripted import Delay, Hang, ScriptedProvider, text_events
from tests.support.query import FAST, body, live_server, next_content, parse_sse, sse_frames

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def provider_of(app: Any) -> ScriptedProvider:
    provider = app.state.platform.query.registry.get("scripted")
    assert isinstance(provider, ScriptedProvider)
    return provider


def slow_script(n: int = 10, delay: float = 0.05) -> list[Any]:
    steps: list[Any] = [ReasoningDelta(text="thinking")]
    for i in range(n):
        steps += [Delay(delay), TextDelta(text=f"t{i} ")]
    return [*steps, DoneEvent(finish_reason="stop")]


async def rows(app: Any) -> list[Any]:
    from sqlalchemy import select

    from llm_platform.db.models import Query

    runtime = app.state.platform.query
    for _ in range(200):
        if not runtime.streams.running:
            break
        await asyncio.sleep(0.02)
    await runtime.log_writer.flush()
    async with app.state.platform.db.read_sessions() as session:
        return list((await session.scalars(select(Query))).all())


async def test_cancel_stops_upstream_within_a_second_and_logs(
    make_settings: Callable[..., Settings],
) -> None:
    async with (
        live_server(make_settings(**FAST)) as (url, app),
        httpx.AsyncClient(base_url=url) as http,
    ):
        provider = provider_of(app)
        provider.queue([TextDelta(text="partial "), Hang()])
        async with http.stream("POST", "/api/v1/query/stream", json=body()) as response:
            stream_id = response.headers["x-stream-id"]
            frames = sse_frames(response)
            assert (await anext(frames))["type"] == "start"
            assert (await next_content(frames))["content"] == "partial "
            # Only the stream's owner may stop it; another user's stream is "not found".
            other = {"X-User-ID": "mallory"}
            r = await http.post(f"/api/v1/query/{stream_id}/cancel", headers=other)
            assert r.status_code == 404 and r.json()["type"] == "not_found"
            t0 = time.monotonic()
            r = await http.post(f"/api/v1/query/{stream_id}/cancel")
            assert r.json() == {"stream_id": stream_id, "cancelled": True}
            rest = [f async for f in frames]
        assert provider.last.outcome == "cancelled"
        assert provider.last.finished_at is not None and provider.last.finished_at - t0 < 1
        assert rest[-2]["type"] == "done" and rest[-2]["metadata"]["status"] == "cancelled"
        assert rest[-1] == {"_done": True}
        (row,) = await rows(app)
        assert row.status == "cancelled" and row.response_text == "partial "
        r = await http.post(f"/api/v1/query/{stream_id}/cancel")
        assert r.json()["cancelled"] is False
        assert (await http.post("/api/v1/query/nope/cancel")).status_code == 404


async def test_resume_with_last_event_id_after_a_dropped_connection(
    make_settings: Callable[..., Settings],
) -> None:
    async with (
        live_server(make_settings(**FAST)) as (url, app),
        httpx.AsyncClient(base_url=url) as http,
    ):
        provider_of(app).queue(slow_script())
        seen: list[dict[str, Any]] = []
        async with http.stream("POST", "/api/v1/query/stream", json=body()) as response:
            stream_id = response.headers["x-stream-id"]
            async for frame in sse_frames(response):
                seen.append(frame)
                if len(seen) == 4:
                    break  # the connection drops here
        last_id = seen[-1]["_id"]
        r = await http.get(
            f"/api/v1/query/stream/{stream_id}",
            headers={"Last-Event-ID": str(last_id), "X-User-ID": "mallory"},
        )
        assert r.status_code == 404  # another user's stream
        r = await http.get(
            f"/api/v1/query/stream/{stream_id}",
            headers={"Last-Event-ID": str(last_id), "X-User-ID": seen[0]["user_id"]},
        )
        assert r.status_code == 200
        resumed = parse_sse(r.text)
        assert resumed[-1] == {"_done": True}
        ids = [f["_id"] for f in seen] + [f["_id"] for f in resumed[:-1]]
        assert ids == list(range(1, len(ids) + 1))  # nothing missed, nothing repeated
        tokens = [f["content"] for f in seen + resumed if f.get("type") == "token"]
        assert "".join(tokens) == "".join(f"t{i} " for i in range(10))
        # A full replay from the start is possible too, while retained.
        again = parse_sse((await http.get(f"/api/v1/query/stream/{stream_id}")).text)
        assert [f["_id"] for f in again[:-1]] == ids
        assert (await http.get("/api/v1/query/stream/unknown")).status_code == 404
        (row,) = await rows(app)
        assert row.status == "ok"


async def test_dropped_connection_does_not_stop_the_generation(
    make_settings: Callable[..., Settings],
) -> None:
    async with (
        live_server(make_settings(**FAST)) as (url, app),
        httpx.AsyncClient(base_url=url) as http,
    ):
        provider = provider_of(app)
        provider.queue(slow_script(5, 0.05))
        async with http.stream("POST", "/api/v1/query/stream", json=body()) as response:
            async for _ in sse_frames(response):
                break
        for _ in range(100):
            if provider.last.outcome != "running":
                break
            await asyncio.sleep(0.05)
        assert provider.last.outcome == "completed"
        (row,) = await rows(app)
        assert row.status == "ok" and row.response_text == "t0 t1 t2 t3 t4 "


async def test_generation_with_no_client_is_cancelled_after_retention(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(**FAST, STREAM_RETENTION_SECONDS=0.3)
    async with live_server(settings) as (url, app), httpx.AsyncClient(base_url=url) as http:
        provider = provider_of(app)
        provider.queue([TextDelta(text="a"), Hang()])
        async with http.stream("POST", "/api/v1/query/stream", json=body()) as response:
            async for _ in sse_frames(response):
                break
        dropped = time.monotonic()
        for _ in range(60):
            if provider.last.outcome != "running":
                break
            await asyncio.sleep(0.05)
        assert provider.last.outcome == "cancelled"
        assert 0.2 < provider.last.finished_at - dropped < 1.8  # type: ignore[operator]
        (row,) = await rows(app)
        assert row.status == "cancelled" and row.response_text == "a"


async def test_websocket_carries_the_same_events_several_queries_and_stop(
    make_settings: Callable[..., Settings],
) -> None:
    async with live_server(make_settings(**FAST)) as (url, app):
        provider = provider_of(app)
        ws_url = url.replace("http", "ws") + "/api/v1/ws/query?user_id=u1"
        async with websockets.connect(ws_url) as ws:

            async def until_end(stream: str | None = None) -> list[dict[str, Any]]:
                got: list[dict[str, Any]] = []
                while True:
                    msg = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
                    got.append(msg)
                    if msg["type"] in ("done", "error") and (
                        stream is None or msg.get("stream_id") == stream
                    ):
                        return got

            for question in ("one", "two"):
                await ws.send(orjson.dumps({"type": "query", **body(question), "ref": question}))
                msgs = await until_end()
                types = [m["type"] for m in msgs]
                assert types[0] == "start" and msgs[0]["ref"] == question
                assert types.index("thought") < types.index("token")
                assert types[-1] == "done"
                tokens = "".join(m["content"] for m in msgs if m["type"] == "token")
                assert tokens == f"You said: {question}"
                assert len({m["stream_id"] for m in msgs}) == 1

            provider.queue([TextDelta(text="x"), Hang()])
            await ws.send(orjson.dumps({"type": "query", **body()}))
            start = orjson.loads(await ws.recv())
            assert start["type"] == "start"
            while orjson.loads(await ws.recv())["type"] != "token":
                pass  # the agent steps before the first token
            await ws.send(orjson.dumps({"type": "stop", "stream_id": start["stream_id"]}))
            msgs = await until_end()
            assert msgs[-1]["metadata"]["status"] == "cancelled"
            # Stopped inside the provider's stream, or (when the stop lands while the
            # `running` row is committed before the first token) by closing it.
            assert provider.last.outcome in ("cancelled", "closed")

            await ws.send(orjson.dumps({"type": "query", **body(""), "ref": "bad"}))
            rejected = orjson.loads(await ws.recv())
            assert rejected["type"] == "error" and rejected["http_status"] == 422
            assert rejected["ref"] == "bad"
        assert len(await rows(app)) == 3


async def test_resume_and_cancel_across_two_instances_sharing_redis(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(**FAST, REDIS_URL=redis_url)
    async with (
        live_server(settings) as (url_a, app_a),
        live_server(settings) as (url_b, _app_b),
        httpx.AsyncClient() as http,
    ):
        provider_of(app_a).queue(slow_script(8, 0.05))
        seen: list[dict[str, Any]] = []
        async with http.stream("POST", f"{url_a}/api/v1/query/stream", json=body()) as response:
            stream_id = response.headers["x-stream-id"]
            async for frame in sse_frames(response):
                seen.append(frame)
                if len(seen) == 3:
                    break
        r = await http.get(
            f"{url_b}/api/v1/query/stream/{stream_id}", headers={"X-User-ID": "mallory"}
        )
        assert r.status_code == 404  # the owner is read from Redis on instance B
        r = await http.get(
            f"{url_b}/api/v1/query/stream/{stream_id}",
            headers={"Last-Event-ID": str(seen[-1]["_id"])},
        )
        resumed = parse_sse(r.text)
        ids = [f["_id"] for f in seen] + [f["_id"] for f in resumed[:-1]]
        assert ids == list(range(1, len(ids) + 1))
        assert resumed[-2]["type"] == "done" and resumed[-1] == {"_done": True}
        tokens = [f["content"] for f in seen + resumed if f.get("type") == "token"]
        assert "".join(tokens) == "".join(f"t{i} " for i in range(8))

        # Cancel through B a generation that runs on A.
        provider = provider_of(app_a)
        provider.queue([TextDelta(text="x"), Hang()])
        async with http.stream("POST", f"{url_a}/api/v1/query/stream", json=body()) as response:
            stream_id = response.headers["x-stream-id"]
            frames = sse_frames(response)
            await anext(frames)
            t0 = time.monotonic()
            r = await http.post(f"{url_b}/api/v1/query/{stream_id}/cancel")
            assert r.json()["cancelled"] is True
            rest = [f async for f in frames]
        assert provider.last.outcome == "cancelled"
        assert provider.last.finished_at - t0 < 1  # type: ignore[operator]
        assert rest[-2]["metadata"]["status"] == "cancelled"


async def test_metrics_count_calls_tokens_and_streams(
    make_settings: Callable[..., Settings],
) -> None:
    async with (
        live_server(make_settings(**FAST, ENABLE_METRICS=True)) as (url, app),
        httpx.AsyncClient(base_url=url) as http,
    ):
        from llm_platform.services.users import create_user_with_key

        async with app.state.platform.db.write_sessions() as session, session.begin():
            admin = await create_user_with_key(session, "test-admin", role="admin")
        provider_of(app).queue(text_events("a b c"))
        await http.post("/api/v1/query/stream", json=body())
        r = await http.get("/metrics", headers={"Authorization": f"Bearer {admin.key}"})
        assert r.status_code == 200, r.text
        text = r.text
        assert 'llm_model_calls_total{model="echo",provider="scripted",status="ok"} 1.0' in text
        assert "llm_active_streams 0.0" in text
        assert "llm_time_to_first_token_seconds_bucket" in text
