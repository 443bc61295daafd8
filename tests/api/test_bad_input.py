"""Bad input: every case is a clear 4xx with the one error body, and nothing half-written."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from llm_platform.core.config import Settings
from tests.conftest import AppClient, app_client, staff_headers
from tests.support.errors import assert_error
from tests.support.events import ev, start


async def event_count(client: AppClient, session_id: str = "s1") -> int:
    r = await client.get(f"/api/v1/sessions/{session_id}")
    assert r.status_code == 200
    return int(r.json()["event_count"])


JSON = {"content-type": "application/json"}


async def test_malformed_json(client: AppClient) -> None:
    await start(client)
    r = await client.post(
        "/api/v1/events", content=b'{"session_id": "s1", "events": [', headers=JSON
    )
    body = assert_error(r, 422, "validation_error")
    assert body["detail"].startswith("Malformed JSON body")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"session_id": "s1", "event": {"event_id": "a", "t": 1, "type": "x", '
        b'"data": {"v": NaN}}}',
        b'{"session_id": "s1", "event": {"event_id": "a", "t": 1, "type": "x", '
        b'"data": {"v": Infinity}}}',
        b'{"session_id": "s1", "event": {"event_id": "a", "t": 1, "type": "x", '
        b'"data": {"v": "\\ud800"}}}',
        b'{"session_id": "s1", "event": {"event_id": "a", "t": 1, "type": "x", '
        b'"data": {"v": "a\\u0000b"}}}',
        b'{"session_id": "s1", "event": {"event_id": "a", "t": 1, "type": "x", '
        b'"data": {"k\\u0000": 1}}}',
        b'{"session_id": "s1", "event": {"event_id": "a", "t": 1, "type": "x\\u0000y"}}',
    ],
    ids=["nan", "infinity", "lone-surrogate", "nul-value", "nul-key", "nul-type"],
)
async def test_json_that_no_database_stores_is_422(client: AppClient, raw: bytes) -> None:
    await start(client)
    assert_error(await client.post("/api/v1/events", content=raw, headers=JSON), 422)
    assert await event_count(client) == 0


async def test_escaped_backslash_u0000_text_is_fine(client: AppClient) -> None:
    """The six characters `\\u0000` inside a string are text, not a NUL."""
    await start(client)
    raw = (
        b'{"session_id": "s1", "event": {"event_id": "a", "t": 1, "type": "x", '
        b'"data": {"v": "\\\\u0000"}}}'
    )
    r = await client.post("/api/v1/events", content=raw, headers=JSON)
    assert r.status_code == 200, r.text
    got = (await client.get("/api/v1/sessions/s1", params={"include_events": "true"})).json()
    assert got["events"][0]["data"] == {"v": "\\u0000"}


async def test_too_deep_nesting_is_422_and_deep_but_storable_is_kept(client: AppClient) -> None:
    await start(client)
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    r = await client.post(
        "/api/v1/events", json={"session_id": "s1", "event": {**ev(1), "data": {"d": deep}}}
    )
    assert_error(r, 422)
    ok: Any = "leaf"
    for _ in range(200):
        ok = {"n": ok}
    r = await client.post(
        "/api/v1/events", json={"session_id": "s1", "event": {**ev(2), "data": ok}}
    )
    assert r.status_code == 200, r.text
    got = (await client.get("/api/v1/sessions/s1", params={"include_events": "true"})).json()
    assert got["events"][0]["data"] == ok


async def test_huge_integers_in_data(client: AppClient) -> None:
    await start(client)
    raw = (
        b'{"session_id": "s1", "events": ['
        b'{"event_id": "a", "t": 1, "type": "x", "data": {"v": 18446744073709551615}},'
        b'{"event_id": "b", "t": 1, "type": "x", "data": {"v": -9223372036854775808}},'
        b'{"event_id": "c", "t": 1, "type": "x", "data": {"v": 1' + b"0" * 40 + b"}}]}"
    )
    r = await client.post("/api/v1/events", content=raw, headers=JSON)
    assert r.status_code == 200, r.text
    got = (await client.get("/api/v1/sessions/s1", params={"include_events": "true"})).json()
    values = [e["data"]["v"] for e in got["events"]]
    assert values[:2] == [2**64 - 1, -(2**63)]
    assert values[2] == pytest.approx(1e40)


@pytest.mark.parametrize(
    "payload",
    [
        {"session_id": "s1", "events": [{"event_id": "a", "t": "yesterday", "type": "x"}]},
        {"session_id": "s1", "events": [{"event_id": "a", "t": -1, "type": "x"}]},
        {"session_id": "s1", "events": [{"event_id": "a", "t": 1, "type": ""}]},
        {"session_id": "s1", "events": [{"event_id": "a", "t": 1, "type": "x", "data": [1]}]},
        {"session_id": "s1", "events": [{"event_id": "a b", "t": 1, "type": "x"}]},
        {"session_id": "s1", "events": [{"event_id": "a", "t": 1, "type": "x", "extra": 1}]},
        {"session_id": "s1", "events": {"event_id": "a"}},
        {"session_id": "s1", "events": []},
        {"session_id": "s1"},
        {"session_id": "s1", "event": ev(1), "events": [ev(2)]},
        {"session_id": 5, "event": ev(1)},
        {"session_id": "s/1", "event": ev(1)},
        {"session_id": "s1\n", "event": ev(1)},
        {"session_id": "s1", "event": {**ev(1), "event_id": "e1\n"}},
        {"session_id": "s" * 129, "event": ev(1)},
        ["not", "an", "object"],
        "just a string",
        None,
    ],
)
async def test_wrong_types_are_422(client: AppClient, payload: Any) -> None:
    await start(client)
    r = await client.post("/api/v1/events", content=orjson.dumps(payload), headers=JSON)
    body = assert_error(r, 422, "validation_error")
    assert isinstance(body["errors"], list) and body["errors"]
    assert await event_count(client) == 0


async def test_wrong_types_on_sessions_and_experiments(client: AppClient) -> None:
    bad_sessions = [
        {"user_id": "u1", "environment": {"viewport": {"width": "wide"}}},
        {"user_id": "u1", "environment": "desktop"},
        {"user_id": "u 1"},
        {"user_id": "u1", "title": "x" * 513},
        {"user_id": "u1", "unknown": True},
    ]
    for payload in bad_sessions:
        assert_error(await client.post("/api/v1/sessions", json=payload), 422)
    bad_experiments = [
        {"name": "e", "variants": []},
        {"name": "e", "variants": [{"name": "a", "weight": 0}]},
        {"name": "e", "variants": [{"name": "a", "weight": -1}]},
        {"name": "e", "variants": [{"name": "a"}, {"name": "a"}]},
        {"name": "", "variants": [{"name": "a"}]},
        {"name": "e", "variants": [{"name": "a", "settings": {"temperature": 5}}]},
        {"name": "e", "variants": [{"name": "a", "settings": {"surprise": 1}}]},
    ]
    researcher = await staff_headers(client, "researcher")
    for payload in bad_experiments:
        r = await client.post("/api/v1/experiments", json=payload, headers=researcher)
        assert_error(r, 422)
    admin = await staff_headers(client)
    assert (await client.get("/api/v1/sessions", headers=admin)).json()["items"] == []
    assert (await client.get("/api/v1/experiments", headers=admin)).json() == []


async def test_missing_or_foreign_content_type(client: AppClient) -> None:
    await start(client)
    raw = orjson.dumps({"session_id": "s1", "event": ev(1)})
    r = await client.post("/api/v1/sessions", content=b'{"user_id": "u1"}')
    assert_error(r, 422)
    r = await client.post(
        "/api/v1/sessions", content=b'{"user_id": "u1"}', headers={"content-type": "text/xml"}
    )
    assert_error(r, 422)
    # Form posts are not JSON either.
    r = await client.post("/api/v1/events", data={"session_id": "s1"})
    assert_error(r, 422)
    assert await event_count(client) == 0
    # application/*+json is JSON.
    r = await client.post(
        "/api/v1/events", content=raw, headers={"content-type": "application/x+json"}
    )
    assert r.status_code == 200, r.text


async def test_non_utf8_body(client: AppClient) -> None:
    await start(client)
    raw = b'{"session_id": "s1", "event": {"event_id": "a", "t": 1, "type": "\xff\xfe"}}'
    assert_error(await client.post("/api/v1/events", content=raw, headers=JSON), 422)
    latin1 = '{"user_id": "u1", "title": "café"}'.encode("latin-1")
    assert_error(await client.post("/api/v1/sessions", content=latin1, headers=JSON), 422)
    utf16 = '{"user_id": "u1"}'.encode("utf-16")
    assert_error(await client.post("/api/v1/sessions", content=utf16, headers=JSON), 422)
    assert await event_count(client) == 0


async def test_unknown_session_ids(client: AppClient) -> None:
    await start(client)
    for method, url in [
        ("GET", "/api/v1/sessions/nope"),
        ("GET", "/api/v1/sessions/nope/events"),
        ("GET", "/api/v1/sessions/nope/export"),
        ("POST", "/api/v1/sessions/nope/end"),
    ]:
        assert_error(await client.request(method, url), 404, "not_found")
    r = await client.get("/api/v1/experiments/nope", headers=await staff_headers(client))
    assert_error(r, 404, "not_found")
    r = await client.post("/api/v1/events", json={"session_id": "nope", "events": [ev(1)]})
    assert_error(r, 404, "not_found")
    # Ids that cannot exist are refused before any query.
    for url in [
        "/api/v1/sessions/a%00b",
        "/api/v1/sessions/" + "x" * 129,
        "/api/v1/sessions/%E2%98%83",
    ]:
        assert_error(await client.get(url), 422)


async def test_batch_over_the_limit_is_413_and_writes_nothing(
    make_settings: Callable[..., Settings],
) -> None:
    async with app_client(make_settings(MAX_EVENTS_PER_BATCH=10)) as client:
        await start(client)
        r = await client.post(
            "/api/v1/events", json={"session_id": "s1", "events": [ev(i) for i in range(11)]}
        )
        body = assert_error(r, 413, "payload_too_large")
        assert "10" in body["detail"]
        assert await event_count(client) == 0
        ok = await client.post(
            "/api/v1/events", json={"session_id": "s1", "events": [ev(i) for i in range(10)]}
        )
        assert ok.status_code == 200 and len(ok.json()["accepted"]) == 10


async def test_oversize_event_data_is_422(make_settings: Callable[..., Settings]) -> None:
    async with app_client(make_settings(MAX_EVENT_DATA_BYTES=1024)) as client:
        await start(client)
        events = [ev(1), {**ev(2), "data": {"blob": "x" * 2000}}]
        r = await client.post("/api/v1/events", json={"session_id": "s1", "events": events})
        body = assert_error(r, 422)
        assert "events.1.data" in body["detail"]
        assert await event_count(client) == 0


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    # A JSON document whose length is only known at the end (no Content-Length).
    yield b'{"session_id": "s1", "event": {"event_id": "a", "t": 1, "type": "x", "data": {"v": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}}}'


async def test_body_over_limit_is_413_declared_and_streamed(
    make_settings: Callable[..., Settings],
) -> None:
    async with app_client(make_settings(MAX_REQUEST_BODY_MB=0.25)) as client:
        await start(client)
        big = orjson.dumps({"session_id": "s1", "event": {**ev(1), "data": {"v": "x" * 300_000}}})
        r = await client.post("/api/v1/events", content=big, headers=JSON)
        assert_error(r, 413, "payload_too_large")
        # Chunked: no Content-Length, the limit trips while reading.
        r = await client.post("/api/v1/events", content=_chunks(400_000), headers=JSON)
        assert "content-length" not in r.request.headers
        assert_error(r, 413, "payload_too_large")
        # A lying Content-Length that is small does not help either.
        r = await client.post(
            "/api/v1/sessions", content=b"x" * 10, headers={"content-length": "abc"}
        )
        assert 400 <= r.status_code < 500
        assert await event_count(client) == 0
        # Under the limit, streamed, is fine.
        r = await client.post("/api/v1/events", content=_chunks(30_000, size=10_000), headers=JSON)
        assert r.status_code == 200, r.text


async def test_huge_strings_are_refused(client: AppClient) -> None:
    await start(client)
    long_type = {"session_id": "s1", "event": {**ev(1), "type": "t" * 65}}
    assert_error(await client.post("/api/v1/events", json=long_type), 422)
    long_id = {"session_id": "s1", "event": {**ev(1), "event_id": "e" * 65}}
    assert_error(await client.post("/api/v1/events", json=long_id), 422)
    long_browser = {"user_id": "u1", "environment": {"browser": "b" * 10_000}}
    assert_error(await client.post("/api/v1/sessions", json=long_browser), 422)
    assert_error(await client.get("/api/v1/sessions", params={"user_id": "u" * 1000}), 422)
    assert await event_count(client) == 0


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/v1/sessions", {"limit": 0}),
        ("/api/v1/sessions", {"limit": -5}),
        ("/api/v1/sessions", {"limit": 1001}),
        ("/api/v1/sessions", {"limit": "ten"}),
        ("/api/v1/sessions/s1/events", {"limit": 0}),
        ("/api/v1/sessions/s1/events", {"limit": -1}),
        ("/api/v1/queries", {"limit": 0}),
        ("/api/v1/queries", {"limit": -1}),
        ("/api/v1/sessions/s1", {"include_events": "maybe"}),
        ("/api/v1/sessions/s1", {"include_events": "true", "event_limit": 0}),
        ("/api/v1/analytics/tokens", {"group_by": "week"}),
        ("/api/v1/analytics/tokens", {"from": "yesterday"}),
        ("/api/v1/sessions/s1/export", {"format": "xml"}),
        ("/api/v1/sessions/s1/events", {"type": "a\x00b"}),
        ("/api/v1/sessions/s1/events", {"type": "t" * 65}),
    ],
)
async def test_bad_query_parameters_are_422(
    client: AppClient, url: str, params: dict[str, Any]
) -> None:
    await start(client)
    assert_error(await client.get(url, params=params), 422, "validation_error")


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "bm90IGpzb24",  # "not json"
        _b64({"a": 1}),
        _b64(["2024-01-01T00:00:00", 5]),
        _b64(["not a date", "id"]),
        _b64(["2024-01-01T00:00:00", "a\x00b"]),
        _b64(["2024-01-01T00:00:00", "x" * 200]),
        _b64([1, 2, 3]),
        "x" * 600,
    ],
)
async def test_bad_cursors(client: AppClient, cursor: str) -> None:
    await start(client)
    admin = await staff_headers(client)
    for url in ("/api/v1/sessions", "/api/v1/queries"):
        r = await client.get(url, params={"cursor": cursor}, headers=admin)
        assert_error(r, r.status_code)
        assert r.status_code in (400, 422), (url, cursor, r.text)


async def test_edge_dates_in_cursors_and_filters(client: AppClient) -> None:
    await start(client)
    admin = await staff_headers(client)
    for at in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2024-01-01"):
        r = await client.get("/api/v1/sessions", params={"cursor": _b64([at, "s1"])}, headers=admin)
        assert r.status_code == 200, r.text
    r = await client.get(
        "/api/v1/analytics/tokens",
        params={"from": "0001-01-01T00:00:00+14:00", "to": "9999-12-31T23:59:59-14:00"},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    r = await client.get(
        "/api/v1/analytics/tokens",
        params={"from": "2024-02-01", "to": "2024-01-01"},
        headers=admin,
    )
    assert_error(r, 400, "bad_request")


@pytest.mark.parametrize("cursor", ["-1", "abc", "99999999999999999999", "9223372036854775808"])
async def test_bad_event_cursors(client: AppClient, cursor: str) -> None:
    await start(client)
    r = await client.get("/api/v1/sessions/s1/events", params={"cursor": cursor})
    assert_error(r, 422, "validation_error")


async def test_duplicate_event_ids_in_one_batch_are_reported_once_stored_once(
    client: AppClient,
) -> None:
    await start(client)
    events = [ev(1), {**ev(1), "type": "other"}, ev(2), ev(1)]
    r = await client.post("/api/v1/events", json={"session_id": "s1", "events": events})
    assert r.status_code == 200
    assert r.json() == {"accepted": ["e-1", "e-2"], "duplicates": ["e-1", "e-1"]}
    page = (await client.get("/api/v1/sessions/s1/events")).json()
    assert [(e["event_id"], e["type"]) for e in page["items"]] == [
        ("e-1", "click"),
        ("e-2", "click"),
    ]


async def test_unknown_routes_and_methods(client: AppClient) -> None:
    assert_error(await client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(await client.get("/definitely/not"), 404, "not_found")
    r = await client.delete("/api/v1/events")
    body = assert_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers.get("allow", "")
    assert body["detail"]
    assert_error(await client.put("/api/v1/sessions/s1"), 405, "method_not_allowed")
    assert_error(await client.get("/metrics"), 404, "not_found")


async def test_events_for_a_session_deleted_behind_the_owner_cache(client: AppClient) -> None:
    """The ingest path remembers session owners; a vanished session is still a 404."""
    from sqlalchemy import delete

    from llm_platform.db.models import Session

    await start(client)
    ok = await client.post("/api/v1/events", json={"session_id": "s1", "event": ev(1)})
    assert ok.status_code == 200  # the owner of s1 is now remembered
    async with client.app.state.platform.db.write_sessions() as session, session.begin():
        await session.execute(delete(Session).where(Session.id == "s1"))
    for _ in range(2):
        r = await client.post("/api/v1/events", json={"session_id": "s1", "event": ev(2)})
        assert_error(r, 404, "not_found")
