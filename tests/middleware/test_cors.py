"""CORS from settings, including what `navigator.sendBeacon` sends at page unload."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest

from llm_platform.core.config import Settings
from tests.conftest import AppClient, app_client
from tests.support.events import ev

SITE = "https://study.example.org"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
async def cors_client(make_settings: Callable[..., Settings]) -> AsyncIterator[AppClient]:
    async with app_client(make_settings(CORS_ORIGINS=[SITE, "http://localhost:3000"])) as c:
        r = await c.post("/api/v1/sessions", json={"session_id": "s1", "user_id": "u1"})
        assert r.status_code == 201
        yield c


def test_origins_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", f"{SITE}, http://localhost:5173")
    assert Settings(_env_file=None).CORS_ORIGINS == [SITE, "http://localhost:5173"]  # type: ignore[call-arg]
    monkeypatch.setenv("CORS_ORIGINS", f'["{SITE}"]')
    assert Settings(_env_file=None).CORS_ORIGINS == [SITE]  # type: ignore[call-arg]


async def test_preflight_from_allowed_origin(cors_client: AppClient) -> None:
    r = await cors_client.options(
        "/api/v1/events",
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-user-id, x-request-id",
        },
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == SITE
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "x-user-id" in r.headers["access-control-allow-headers"].lower()


async def test_preflight_from_other_origin_is_refused(cors_client: AppClient) -> None:
    r = await cors_client.options(
        "/api/v1/events",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers


async def test_cross_origin_post_and_readable_headers(cors_client: AppClient) -> None:
    r = await cors_client.post(
        "/api/v1/events",
        json={"session_id": "s1", "events": [ev(1)]},
        headers={"Origin": SITE, "X-User-ID": "u1"},
    )
    assert r.status_code == 200 and r.json()["accepted"] == ["e-1"]
    assert r.headers["access-control-allow-origin"] == SITE
    exposed = r.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed and "retry-after" in exposed
    # Errors are readable cross-origin too.
    missing = await cors_client.get("/api/v1/sessions/nope", headers={"Origin": SITE})
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == SITE
    other = await cors_client.post(
        "/api/v1/events",
        json={"session_id": "s1", "events": [ev(2)]},
        headers={"Origin": "https://evil.example.com"},
    )
    assert "access-control-allow-origin" not in other.headers


async def test_send_beacon_with_json_blob(cors_client: AppClient) -> None:
    """sendBeacon(url, new Blob([json], {type: "application/json"})): no custom headers."""
    body = orjson.dumps({"session_id": "s1", "events": [ev(1), ev(2)]})
    r = await cors_client.post(
        "/api/v1/events",
        content=body,
        headers={"Origin": SITE, "Content-Type": "application/json"},
    )
    assert r.status_code == 200 and r.json()["accepted"] == ["e-1", "e-2"]
    assert r.headers["access-control-allow-origin"] == SITE


async def test_send_beacon_with_string_is_text_plain(cors_client: AppClient) -> None:
    """sendBeacon(url, JSON.stringify(batch)) sends text/plain;charset=UTF-8 (no preflight)."""
    body = orjson.dumps({"session_id": "s1", "events": [ev(1), ev(2)]})
    r = await cors_client.post(
        "/api/v1/events",
        content=body,
        headers={"Origin": SITE, "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == ["e-1", "e-2"]
    # Re-sent on the next page load (the beacon's fate is unknown): no duplicates.
    again = await cors_client.post(
        "/api/v1/events", content=body, headers={"Content-Type": "text/plain"}
    )
    assert again.json() == {"accepted": [], "duplicates": ["e-1", "e-2"]}
    detail = (await cors_client.get("/api/v1/sessions/s1")).json()
    assert detail["event_count"] == 2
    # Text that is not JSON is still a clean 422.
    bad = await cors_client.post(
        "/api/v1/events", content=b"bye!", headers={"Content-Type": "text/plain"}
    )
    assert bad.status_code == 422 and bad.json()["type"] == "validation_error"
    # An untyped Blob or ArrayBuffer beacon has no Content-Type at all.
    untyped = orjson.dumps({"session_id": "s1", "events": [ev(3)]})
    r = await cors_client.post("/api/v1/events", content=untyped, headers={"Origin": SITE})
    assert "content-type" not in r.request.headers
    assert r.status_code == 200 and r.json()["accepted"] == ["e-3"]
    # Only the beacon endpoint reads text/plain as JSON.
    other = await cors_client.post(
        "/api/v1/sessions",
        content=b'{"user_id": "u1"}',
        headers={"Content-Type": "text/plain"},
    )
    assert other.status_code == 422
