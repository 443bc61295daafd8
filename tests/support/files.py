"""Files through the API: upload one, wait until ingestion finished (ready or failed)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import AppClient


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
