"""Property-based fuzzing of every operation in the OpenAPI schema (schemathesis).

Valid and invalid requests are generated from the schema and sent to a real server on
127.0.0.1 (SQLite). Whatever arrives, the answer is never a 5xx, and every error has the one
body shape `{"detail", "type", "request_id"}`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure

from llm_platform.api.v1.router import api_router
from llm_platform.core.config import Settings
from llm_platform.db.engine import create_database
from llm_platform.main import create_app
from llm_platform.services.users import create_user_with_key
from tests.conftest import _fresh_pg_database

pytestmark = pytest.mark.slow


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
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        DATA_DIR=tmp,
        DATABASE_URL=database_url,
        LOG_LEVEL="CRITICAL",
        RATE_LIMIT_PER_MINUTE=0,
        RATE_LIMIT_PER_MINUTE_IP=0,
        RATE_LIMIT_NEW_PARTICIPANTS_PER_MINUTE_IP=0,
        MAX_REQUEST_BODY_MB=1,
        # Bodies may name users (as the original client's do): the fuzzer's user_ids are used.
        TRUST_CLIENT_USER_ID=True,
        WARM_START=False,
    )
    app = create_app(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    # The fuzzer calls as an admin, who gets past authentication on every route (what
    # each kind of caller may reach is tests/api/test_access.py's subject).
    global ADMIN
    ADMIN = asyncio.run(_admin_headers(settings))
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
    try:
        yield base, app
    finally:
        server.should_exit = True
        thread.join(15)


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


def _openapi() -> dict[str, Any]:
    # The same routers as the app, without its lifespan or settings (nothing runs at import).
    app = FastAPI(title="LLM Platform")
    app.include_router(api_router)
    return app.openapi()


schema = schemathesis.openapi.from_dict(_openapi())


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case: Any, live_server: tuple[str, Any]) -> None:
    base, _ = live_server
    case.call_and_validate(
        base_url=base,
        headers=ADMIN,
        checks=[not_a_server_error, error_body_shape],
        timeout=30,
    )
