"""Schemathesis fuzzing against a real server: the server (a module fixture, SQLite and
PostgreSQL, with some data to find), the admin headers it issues, the error-shape check and
the shared hypothesis settings (tests/api/test_fuzz.py, tests/api/legacy/test_fuzz_compat.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from schemathesis.core.failures import Failure

from llm_platform.core.config import Settings
from llm_platform.db.engine import create_database
from llm_platform.main import create_app
from llm_platform.services.users import create_user_with_key
from tests.conftest import _fresh_pg_database
from tests.support.settings import sqlite_settings
from tests.support.uvicorn_server import run_server

# Each operation: 20 examples, the same ones on every run.
fuzz = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Any]]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    database_url = None
    if request.param == "postgresql":
        # PostgreSQL refuses what SQLite stores (NUL characters, over-long values): fuzz both.
        server_url = request.getfixturevalue("pg_server_url")
        database_url = asyncio.run(_fresh_pg_database(server_url))
    settings = sqlite_settings(
        tmp,
        DATA_DIR=tmp,
        DATABASE_URL=database_url,
        LOG_LEVEL="CRITICAL",
        RATE_LIMIT_NEW_PARTICIPANTS_PER_MINUTE_IP=0,
        MAX_REQUEST_BODY_MB=1,
        # Bodies may name users (as the original client's do): the fuzzer's user_ids are used.
        TRUST_CLIENT_USER_ID=True,
        # A plain model call unless the fuzzed body asks for the agents (`agent_mode`): every
        # example through the whole graph (OCR of each fuzzed image...) takes minutes.
        AGENT_MODE_DEFAULT="off",
        # The router's last stage would ask the model (with its timeout) for every fuzzed
        # message the rules and embeddings are unsure of.
        INTENT_LLM_ENABLED=False,
    )
    app = create_app(settings)
    with run_server(app) as (host, port):
        base = f"http://{host}:{port}"
        yield from _seeded(base, app, settings)


def _seeded(base: str, app: Any, settings: Settings) -> Iterator[tuple[str, Any]]:
    # The fuzzer calls as an admin, who gets past authentication on every route (what
    # each kind of caller may reach is tests/api/test_access.py's subject).
    ADMIN.clear()
    ADMIN.update(asyncio.run(_admin_headers(settings)))
    # Something to find: a session with events, an experiment.
    with httpx.Client(base_url=base, headers=ADMIN) as client:
        client.post("/api/v1/sessions", json={"session_id": "s1", "user_id": "u1"})
        client.post(
            "/api/v1/events",
            json={"session_id": "s1", "event": {"event_id": "e1", "t": 1, "type": "click"}},
        )
        client.post(
            "/api/v1/experiments", json={"id": "x1", "name": "X", "variants": [{"name": "a"}]}
        )
        # Load the embedding model once, outside the per-request timeout.
        client.post("/api/v1/rag/search", json={"query": "warm up"}, timeout=180)
    yield base, app


# The fuzzer's admin headers on the current server (filled by `live_server`).
ADMIN: dict[str, str] = {}


async def _admin_headers(settings: Settings) -> dict[str, str]:
    db = create_database(settings)
    try:
        async with db.write_sessions() as session, session.begin():
            issued = await create_user_with_key(session, "fuzz-admin", role="admin")
    finally:
        await db.dispose()
    return {"Authorization": f"Bearer {issued.key}"}


def error_body_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not (isinstance(body, dict) and {"detail", "type", "request_id"} <= set(body)):
        raise Failure(
            operation=case.operation.label,
            title="Error without the {detail, type, request_id} body",
            message=f"{response.status_code}: {response.text[:300]}",
            code="error_shape",
        )
    return True
