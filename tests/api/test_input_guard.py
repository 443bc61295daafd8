"""Known 500s of malformed input, each now a clear 4xx, on SQLite and PostgreSQL: NUL in
path and query values, an over-long `X-User-ID`, naive vs aware dates, and a control
character in a legacy event's type."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from llm_platform.db.models import Event, Query
from tests.conftest import AppClient, staff_headers
from tests.support.errors import assert_error
from tests.support.events import start

NUL = "%00"

# Every route that took a plain `str` path or query value (six reached the database with a
# NUL and answered 500 on PostgreSQL), and a few typed ones.
NUL_REQUESTS = [
    ("PATCH", f"/api/v1/sessions/s{NUL}1", {"title": "x"}),
    ("DELETE", f"/api/v1/sessions/s{NUL}1", None),
    ("GET", f"/api/v1/files/f{NUL}1", None),
    ("GET", f"/api/v1/files/f{NUL}1/content", None),
    ("DELETE", f"/api/v1/files/f{NUL}1", None),
    ("GET", f"/api/v1/experiments/e{NUL}1/stats", None),
    ("GET", f"/api/v1/session/s{NUL}1", None),
    ("GET", f"/api/v1/session/s{NUL}1/experiment", None),
    ("POST", f"/api/v1/session/s{NUL}1/experiment", {"experiment_id": "e"}),
    ("GET", f"/api/v1/query/history/u{NUL}1", None),
    ("GET", f"/api/v1/query/stream/st{NUL}1", None),
    ("POST", f"/api/v1/query/st{NUL}1/cancel", None),
    ("GET", f"/api/v1/queries?user_id=u{NUL}1", None),
    ("GET", f"/api/v1/sessions?experiment_id=e{NUL}", None),
    ("GET", f"/tokens/data?user_id=u{NUL}", None),
    ("GET", f"/api/v1/analytics/tokens?user_id=u{NUL}", None),
]


@pytest.mark.parametrize(
    ("method", "url", "body"), NUL_REQUESTS, ids=[f"{m} {u}" for m, u, _ in NUL_REQUESTS]
)
async def test_nul_in_path_or_query_is_422(
    client: AppClient, method: str, url: str, body: dict[str, str] | None
) -> None:
    await start(client, "s1")
    r = await client.request(method, url, json=body)
    assert_error(r, 422, "validation_error")


async def test_nul_free_percent_escapes_still_work(client: AppClient) -> None:
    await start(client, "s1")
    r = await client.get("/api/v1/sessions/s%31")  # %31 is "1"
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("user_id", ["u" * 129, "u" * 500, "a\tb", "a\x7fb"])
async def test_bad_x_user_id_is_422_and_nothing_is_written(client: AppClient, user_id: str) -> None:
    headers = {"X-User-ID": user_id}
    r = await client.post(
        "/api/v1/query",
        json={"query": "hello", "provider": "scripted", "model": "echo"},
        headers=headers,
    )
    assert_error(r, 422, "validation_error")
    r = await client.post("/api/v1/sessions", json={"session_id": "s9"}, headers=headers)
    assert_error(r, 422, "validation_error")
    async with client.app.state.platform.db.read_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Query)) == 0


async def test_x_user_id_of_128_characters_is_accepted(client: AppClient) -> None:
    r = await client.post(
        "/api/v1/sessions", json={"session_id": "s128"}, headers={"X-User-ID": "u" * 128}
    )
    assert r.status_code == 201, r.text
    assert r.json()["user_id"] == "u" * 128


@pytest.mark.parametrize(
    ("start_at", "end_at"),
    [
        ("2026-01-01T00:00:00", "2026-12-31T00:00:00+00:00"),
        ("2026-01-01T00:00:00+02:00", "2026-12-31T00:00:00"),
        ("2026-01-01T00:00:00", "2026-12-31T00:00:00"),
    ],
    ids=["naive-aware", "aware-naive", "naive-naive"],
)
async def test_token_analytics_mixed_naive_and_aware_dates(
    client: AppClient, start_at: str, end_at: str
) -> None:
    r = await client.get(
        "/api/v1/analytics/tokens",
        params={"from": start_at, "to": end_at},
        headers=await staff_headers(client),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["start"].endswith(("Z", "+00:00")), body["start"]
    assert body["end"].endswith(("Z", "+00:00")), body["end"]


async def test_token_analytics_naive_date_is_taken_as_utc(client: AppClient) -> None:
    # 01:00 at +02:00 is 23:00 UTC the day before: after a naive 23:30 UTC, so 'to' <= 'from'.
    r = await client.get(
        "/api/v1/analytics/tokens",
        params={"from": "2026-01-01T23:30:00", "to": "2026-01-02T01:00:00+02:00"},
        headers=await staff_headers(client),
    )
    assert_error(r, 400, "bad_request")


@pytest.mark.parametrize("event_type", ["a\x01b", "tab\there", "new\nline", "\x00"])
async def test_legacy_event_with_control_character_in_type_is_422(
    client: AppClient, event_type: str
) -> None:
    await start(client, "s1")
    r = await client.post(
        "/api/v1/session/event",
        json={"session_id": "s1", "event": {"t": 1, "type": event_type, "data": {}}},
    )
    assert_error(r, 422, "validation_error")
    async with client.app.state.platform.db.read_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 0


async def test_legacy_event_with_printable_type_is_stored(client: AppClient) -> None:
    await start(client, "s1")
    r = await client.post(
        "/api/v1/session/event",
        json={"session_id": "s1", "event": {"t": 1, "type": "clické ✓", "data": {}}},
    )
    assert r.status_code == 200, r.text
