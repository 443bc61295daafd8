from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from llm_platform.core.config import Settings
from llm_platform.db.engine import Database, create_database
from llm_platform.db.migrate import upgrade
from llm_platform.rag.embeddings import LocalEmbedder
from tests.conftest import AppClient

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    """The real local model, loaded once for the whole session (the model cache is
    process-wide, so apps built by tests reuse it too)."""
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


async def upload(
    client: AppClient, name: str, data: bytes, user: str = "u1", content_type: str = "text/plain"
) -> Any:
    return await client.post(
        "/api/v1/files/upload",
        files={"file": (name, data, content_type)},
        headers={"x-user-id": user},
    )


async def wait_done(
    client: AppClient, file_id: str, user: str = "u1", max_wait: float = 120
) -> Any:
    deadline = asyncio.get_running_loop().time() + max_wait
    while True:
        r = await client.get(f"/api/v1/files/{file_id}", headers={"x-user-id": user})
        body = r.json()
        if body["status"] in ("ready", "failed"):
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"file still {body['status']} after {max_wait}s: {body}")
        await asyncio.sleep(0.1)
