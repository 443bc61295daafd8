"""Crash-safe query log with a real `llm-platform serve`: kill -9 during a generation, start
again, and the turn is there as `interrupted` with its prompt (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from llm_platform.db.models import Event, Instance, Query
from tests.support.processes import free_port, serve

pytestmark = pytest.mark.slow


def first_token(port: int, body: dict[str, object]) -> dict[str, str]:
    """Start a stream and read it up to its first token; returns the stream's headers."""
    url = f"http://127.0.0.1:{port}/api/v1/query/stream"
    with httpx.stream("POST", url, json=body, timeout=30) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line in ("event: token", "event: thought"):
                return dict(response.headers)
    raise AssertionError("the stream ended before its first token")


async def test_kill_9_during_a_generation_keeps_the_turn_as_interrupted(
    tmp_path: Path, database_url: str
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "ENABLE_SCRIPTED_PROVIDER": "true",
        "RATE_LIMIT_PER_MINUTE": "0",
        "RATE_LIMIT_PER_MINUTE_IP": "0",
        "INGEST_IN_APP": "false",
        "TRUST_CLIENT_USER_ID": "true",  # the body names its user (crash-user)
    }
    body = {
        "query": "tell me a long story",
        "model_provider": "scripted",
        "model_name": "slow",
        "session_id": "crash-session",
        "user_id": "crash-user",
    }
    port = free_port()
    with serve(tmp_path, port, **env) as proc:
        headers = first_token(port, body)
        query_id = headers["x-query-id"]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(select(Query).where(Query.id == query_id))).one()
            assert row.status == "running"  # committed before the first token
        with serve(tmp_path, free_port(), **env):
            async with engine.connect() as conn:
                row = (await conn.execute(select(Query).where(Query.id == query_id))).one()
                events = (
                    await conn.execute(
                        select(Event.type, Event.data).where(Event.session_id == "crash-session")
                    )
                ).all()
                alive = (await conn.execute(select(Instance.id))).scalars().all()
        assert row.status == "interrupted"
        assert row.finished_at is not None and "stopped" in (row.error or "")
        assert row.request["query"] == "tell me a long story"
        assert row.user_id == "crash-user" and row.model == "slow"
        prompts = [data for kind, data in events if kind == "prompt"]
        assert [p["text"] for p in prompts] == ["tell me a long story"]
        assert prompts[0]["query_id"] == query_id
        assert len(alive) == 1  # the dead instance was removed, the new one registered
    finally:
        await engine.dispose()
