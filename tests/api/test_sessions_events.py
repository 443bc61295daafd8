from __future__ import annotations

import asyncio
import uuid

from tests.conftest import AppClient, staff_headers
from tests.support.events import ev, start


async def test_start_session_is_idempotent_and_keeps_environment(client: AppClient) -> None:
    env = {
        "device": "desktop",
        "browser": "Firefox 130",
        "os": "Linux",
        "viewport": {"width": 1280, "height": 800},
        "language": "en-GB",
        "connection": "4g",
        "location": {"city": "Oslo"},
        "timezone": "Europe/Oslo",
    }
    r = await client.post(
        "/api/v1/sessions", json={"session_id": "s1", "user_id": "u1", "environment": env}
    )
    assert r.status_code == 201
    body = r.json()
    assert body["status"] == "created"
    assert body["environment"] == env  # unknown fields (timezone) are kept
    again = await client.post("/api/v1/sessions", json={"session_id": "s1", "user_id": "u1"})
    assert again.status_code == 200
    assert again.json()["status"] == "exists"


async def test_session_id_generated_when_absent(client: AppClient) -> None:
    r = await client.post("/api/v1/sessions", json={"user_id": "u1"})
    assert r.status_code == 201
    assert len(r.json()["session_id"]) == 32


async def test_batch_is_idempotent(client: AppClient) -> None:
    await start(client)
    batch = {"session_id": "s1", "events": [ev(i) for i in range(50)]}
    first = (await client.post("/api/v1/events", json=batch)).json()
    assert len(first["accepted"]) == 50 and first["duplicates"] == []
    second = (await client.post("/api/v1/events", json=batch)).json()
    assert second["accepted"] == [] and len(second["duplicates"]) == 50
    page = (await client.get("/api/v1/sessions/s1/events", params={"limit": 1000})).json()
    assert len(page["items"]) == 50


async def test_concurrent_duplicate_batches_store_each_event_once(client: AppClient) -> None:
    await start(client)
    batch = {"session_id": "s1", "events": [ev(i) for i in range(100)]}
    results = await asyncio.gather(*[client.post("/api/v1/events", json=batch) for _ in range(6)])
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    accepted = sum(len(r.json()["accepted"]) for r in results)
    assert accepted == 100
    detail = (await client.get("/api/v1/sessions/s1")).json()
    assert detail["event_count"] == 100


async def test_single_event_form_and_duplicate_inside_batch(client: AppClient) -> None:
    await start(client)
    one = await client.post("/api/v1/events", json={"session_id": "s1", "event": ev(1)})
    assert one.json() == {"accepted": ["e-1"], "duplicates": []}
    mixed = await client.post(
        "/api/v1/events", json={"session_id": "s1", "events": [ev(2), ev(2), ev(1)]}
    )
    assert mixed.json() == {"accepted": ["e-2"], "duplicates": ["e-1", "e-2"]}


async def test_events_filter_by_type_and_paginate(client: AppClient) -> None:
    await start(client)
    events = [ev(i, "scroll" if i % 2 else "click", n=i) for i in range(30)]
    await client.post("/api/v1/events", json={"session_id": "s1", "events": events})
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"type": "click", "limit": 4}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/sessions/s1/events", params=params)).json()
        seen += [e["event_id"] for e in page["items"]]
        assert all(e["type"] == "click" for e in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"e-{i}" for i in range(0, 30, 2)]


async def test_event_data_round_trips_exactly(client: AppClient) -> None:
    await start(client)
    data = {"x": 1.5, "nested": {"list": [1, "two", None, True]}, "unicode": "ø—🙂", "big": 2**53}
    await client.post(
        "/api/v1/events",
        json={
            "session_id": "s1",
            "event": {"event_id": "d1", "t": 5, "type": "custom", "data": data},
        },
    )
    got = (await client.get("/api/v1/sessions/s1", params={"include_events": "true"})).json()
    assert got["events"][0]["data"] == data


async def test_end_session_and_list_with_cursor(client: AppClient) -> None:
    for i in range(7):
        await start(client, session_id=f"s{i}", user_id="u1" if i < 5 else "u2")
    ended = await client.post("/api/v1/sessions/s1/end")
    assert ended.status_code == 200 and ended.json()["ended_at"]
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"user_id": "u1", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/sessions", params=params)).json()
        ids += [s["session_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(ids) == [f"s{i}" for i in range(5)]
    assert len(set(ids)) == 5


async def test_unknown_session_is_404_json(client: AppClient) -> None:
    r = await client.post("/api/v1/events", json={"session_id": "nope", "event": ev(1)})
    assert r.status_code == 404
    body = r.json()
    assert set(body) >= {"detail", "type", "request_id"} and body["type"] == "not_found"
    assert (await client.get("/api/v1/sessions/nope")).status_code == 404
    assert (await client.post("/api/v1/sessions/nope/end")).status_code == 404


async def test_batch_with_one_invalid_event_writes_nothing(client: AppClient) -> None:
    await start(client)
    events = [ev(i) for i in range(10)] + [{"event_id": "bad", "t": "yesterday", "type": "x"}]
    r = await client.post("/api/v1/events", json={"session_id": "s1", "events": events})
    assert r.status_code == 422
    assert (await client.get("/api/v1/sessions/s1")).json()["event_count"] == 0


async def test_export_session_jsonl_and_csv(client: AppClient) -> None:
    await start(client)
    await client.post(
        "/api/v1/events", json={"session_id": "s1", "events": [ev(i) for i in range(3)]}
    )
    r = await client.get("/api/v1/sessions/s1/export")
    assert r.status_code == 200
    lines = [__import__("json").loads(x) for x in r.text.splitlines()]
    assert [x["kind"] for x in lines] == ["session", "event", "event", "event"]
    csv_r = await client.get("/api/v1/sessions/s1/export", params={"format": "csv"})
    rows = csv_r.text.strip().splitlines()
    assert rows[0].startswith("kind,session_id") and len(rows) == 5


async def test_request_id_echoed_and_generated(client: AppClient) -> None:
    r = await client.get("/api/v1/health", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert "app;dur=" in r.headers["server-timing"]
    r2 = await client.get("/api/v1/health", headers={"X-Request-ID": "bad id\twith junk"})
    assert r2.headers["x-request-id"] != "bad id\twith junk"
    assert len(r2.headers["x-request-id"]) == 32


async def test_status_reports_database_and_migrations(client: AppClient) -> None:
    r = await client.get("/api/v1/status", headers=await staff_headers(client))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"]["reachable"] and body["database"]["migrations_current"]
    assert body["providers"]["openai"] is False
    assert body["redis"] == "not configured"


async def test_random_uuid_session(client: AppClient) -> None:
    sid = str(uuid.uuid4())
    await start(client, session_id=sid)
    assert (await client.get(f"/api/v1/sessions/{sid}")).status_code == 200
