"""Rate limits per user and per client IP: in-process, and shared through the real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from llm_platform.core.config import Settings
from llm_platform.services.users import create_user_with_key
from tests.conftest import app_client, staff_headers
from tests.support.errors import assert_error


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Rate limits do not depend on the database: SQLite only."""
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@asynccontextmanager
async def from_ip(app: Any, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from `ip` (a label on loopback: nothing is sent)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def assert_limited(r: httpx.Response) -> None:
    body = assert_error(r, 429, "rate_limited")
    assert "per minute" in body["detail"]
    retry_after = int(r.headers["retry-after"])
    assert 1 <= retry_after <= 60


async def spend_budget_naming_new_users(
    client: httpx.AsyncClient, budget: int, prefix: str, reason: str
) -> None:
    """`budget` requests, each naming another user (`<prefix><n>`), pass; the next, naming
    yet another, is limited, `reason` in its detail."""
    for n in range(budget):
        r = await client.get("/api/v1/sessions", headers={"X-User-ID": f"{prefix}{n}"})
        assert r.status_code == 200
    r = await client.get("/api/v1/sessions", headers={"X-User-ID": f"{prefix}new"})
    assert_limited(r)
    assert reason in r.json()["detail"]


async def token(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.post("/api/v1/auth/participant")
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def test_per_user_limit_in_process(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        RATE_LIMIT_PER_MINUTE=5, RATE_LIMIT_PER_MINUTE_IP=0, TRUST_CLIENT_USER_ID=False
    )
    async with app_client(settings) as client:
        alice, bob = await token(client), await token(client)
        for _ in range(5):
            assert (await client.get("/api/v1/sessions", headers=alice)).status_code == 200
        r = await client.get("/api/v1/sessions", headers=alice)
        assert_limited(r)
        assert "per user" in r.json()["detail"]
        # Writes count too, and a limited write writes nothing.
        r = await client.post("/api/v1/sessions", json={"session_id": "x"}, headers=alice)
        assert_limited(r)
        # Other users have their own budget; liveness is never limited.
        assert (await client.get("/api/v1/sessions", headers=bob)).status_code == 200
        assert (await client.get("/api/v1/health")).status_code == 200
        assert (await client.get("/api/v1/sessions/x", headers=bob)).status_code == 404


async def test_client_named_ids_are_counted_per_ip(make_settings: Callable[..., Settings]) -> None:
    """A new X-User-ID per request (trusted ids: the original client's mode) proves nothing:
    such callers share their client IP's budget, at the per-user rate."""
    settings = make_settings(RATE_LIMIT_PER_MINUTE=3, RATE_LIMIT_PER_MINUTE_IP=0)
    async with (
        app_client(settings) as client,
        from_ip(client.app, "127.0.0.7") as one,
        from_ip(client.app, "127.0.0.8") as two,
    ):
        await spend_budget_naming_new_users(one, 3, "rotating-", "unauthenticated")
        assert_limited(await one.get("/api/v1/sessions"))  # naming nobody: the same budget
        assert (await two.get("/api/v1/sessions", headers={"X-User-ID": "x"})).status_code == 200


async def test_new_participants_are_rationed_per_ip(make_settings: Callable[..., Settings]) -> None:
    """Each token is a fresh identity with its own per-user budget: minting is limited."""
    settings = make_settings(
        RATE_LIMIT_NEW_PARTICIPANTS_PER_MINUTE_IP=2, TRUST_CLIENT_USER_ID=False
    )
    async with (
        app_client(settings) as client,
        from_ip(client.app, "127.0.0.9") as one,
        from_ip(client.app, "127.0.0.10") as two,
    ):
        for _ in range(2):
            assert (await one.post("/api/v1/auth/participant")).status_code == 201
        r = await one.post("/api/v1/auth/participant")
        assert_limited(r)
        assert "new-participant" in r.json()["detail"]
        assert (await two.post("/api/v1/auth/participant")).status_code == 201


async def test_per_ip_limit_in_process(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(RATE_LIMIT_PER_MINUTE=0, RATE_LIMIT_PER_MINUTE_IP=4)
    async with (
        app_client(settings) as client,
        from_ip(client.app, "127.0.0.2") as one,
        from_ip(client.app, "127.0.0.3") as two,
    ):
        # Changing the claimed user does not escape the IP budget.
        await spend_budget_naming_new_users(one, 4, "u", "per ip")
        assert (await two.get("/api/v1/sessions", headers={"X-User-ID": "u"})).status_code == 200


async def test_bad_keys_are_throttled_by_ip(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(AUTH_MODE="api_key", RATE_LIMIT_PER_MINUTE_IP=3)
    async with app_client(settings) as client, from_ip(client.app, "127.0.0.4") as guesser:
        for n in range(3):
            r = await guesser.get("/api/v1/sessions", headers={"Authorization": f"Bearer g{n}"})
            assert r.status_code == 401
        assert_limited(await guesser.get("/api/v1/sessions"))


async def test_per_user_limit_follows_the_key(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(AUTH_MODE="api_key", RATE_LIMIT_PER_MINUTE=2)
    async with app_client(settings) as client:
        async with client.app.state.platform.db.write_sessions() as session, session.begin():
            issued = await create_user_with_key(session, "carol", role="participant")
        auth = {"Authorization": f"Bearer {issued.key}"}
        async with from_ip(client.app, "127.0.0.5") as a, from_ip(client.app, "127.0.0.6") as b:
            assert (await a.get("/api/v1/sessions", headers=auth)).status_code == 200
            assert (await b.get("/api/v1/sessions", headers=auth)).status_code == 200
            assert_limited(await a.get("/api/v1/sessions", headers=auth))


async def test_two_instances_share_one_budget_through_redis(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(
        REDIS_URL=redis_url, RATE_LIMIT_PER_MINUTE=6, RATE_LIMIT_PER_MINUTE_IP=0
    )
    async with app_client(settings) as first, app_client(settings) as second:
        assert first.app is not second.app
        r = await first.get("/api/v1/status", headers=await staff_headers(first))
        assert r.json()["redis"] == "ok"
        user = await token(first)  # both instances share the signing secret (one DATA_DIR)
        for _ in range(3):
            assert (await first.get("/api/v1/sessions", headers=user)).status_code == 200
            assert (await second.get("/api/v1/sessions", headers=user)).status_code == 200
        # The budget of 6 is spent across both instances.
        assert_limited(await first.get("/api/v1/sessions", headers=user))
        assert_limited(await second.get("/api/v1/sessions", headers=user))
        assert (
            await second.get("/api/v1/sessions", headers=await token(second))
        ).status_code == 200


async def test_ip_budget_shared_through_redis(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(REDIS_URL=redis_url, RATE_LIMIT_PER_MINUTE_IP=4)
    ip = f"127.{uuid.uuid4().int % 250 + 1}.{uuid.uuid4().int % 250 + 1}.9"
    async with (
        app_client(settings) as first,
        app_client(settings) as second,
        from_ip(first.app, ip) as a,
        from_ip(second.app, ip) as b,
    ):
        user = {"X-User-ID": "u"}
        for _ in range(2):
            assert (await a.get("/api/v1/sessions", headers=user)).status_code == 200
            assert (await b.get("/api/v1/sessions", headers=user)).status_code == 200
        assert_limited(await b.get("/api/v1/sessions", headers=user))
        assert_limited(await a.get("/api/v1/sessions", headers=user))


async def test_unreachable_redis_is_reported_and_requests_still_served(
    make_settings: Callable[..., Settings],
) -> None:
    # Port 1 on loopback: nothing listens there.
    settings = make_settings(REDIS_URL="redis://127.0.0.1:1/0", RATE_LIMIT_PER_MINUTE=5)
    async with app_client(settings) as client:
        body = (await client.get("/api/v1/status", headers=await staff_headers(client))).json()
        assert body["redis"] == "unreachable" and body["status"] == "degraded"
        r = await client.get("/api/v1/sessions", headers={"X-User-ID": "u"})
        assert r.status_code == 200
