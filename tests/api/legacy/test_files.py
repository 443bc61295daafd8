"""The old client's file calls: its multipart upload with a `user_id` form field, its list
(`GET /api/v1/files/?user_id=`), and the v1 routes it shares for get and delete."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from llm_platform.core.config import Settings
from llm_platform.rag.embeddings import LocalEmbedder
from tests.conftest import AppClient, start_client
from tests.support.files import wait_done
from tests.support.legacy_client import FRONTEND_ORIGIN

NOTES = b"Field notes.\n\nThe participants preferred the second design.\n"


@pytest.fixture
async def client(
    make_settings: Callable[..., Settings],
    embedder: LocalEmbedder,
) -> AsyncIterator[AppClient]:
    async for c in start_client(make_settings(INGEST_SWEEP_SECONDS=0.5)):
        yield c


async def legacy_upload(client: AppClient, user_id: str) -> dict:
    """apiClient.uploadFile: FormData with `file` and `user_id`, no user header."""
    r = await client.post(
        "/api/v1/files/upload",
        files={"file": ("notes.txt", NOTES, "text/plain")},
        data={"user_id": user_id},
        headers={"Origin": FRONTEND_ORIGIN},
    )
    assert r.status_code == 201, r.text
    assert r.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
    body: dict = r.json()
    return body


async def test_upload_list_get_delete(client: AppClient) -> None:
    uploaded = await legacy_upload(client, "u-1")
    file_id = uploaded["id"]
    done = await wait_done(client, file_id, user="u-1")
    assert done["status"] == "ready" and done["chunk_count"] >= 1

    listed = (await client.get("/api/v1/files/", params={"user_id": "u-1"})).json()
    assert listed["count"] == 1
    item = listed["files"][0]
    assert item["file_id"] == file_id and item["filename"] == "notes.txt"
    assert item["size"] == len(NOTES) and item["mime_type"].startswith("text/plain")
    assert item["processed"] is True and item["uploaded_at"]
    # The file is the user's: another user's list does not show it.
    assert (await client.get("/api/v1/files/?user_id=u-2")).json() == {"files": [], "count": 0}
    # The v1 API sees the same file as u-1's.
    mine = (await client.get("/api/v1/files", headers={"X-User-ID": "u-1"})).json()["items"]
    assert [f["id"] for f in mine] == [file_id]

    got = await client.get(f"/api/v1/files/{file_id}")
    assert got.status_code == 200 and got.json()["name"] == "notes.txt"
    r = await client.delete(f"/api/v1/files/{file_id}")
    assert r.status_code == 204
    assert (await client.get("/api/v1/files/?user_id=u-1")).json()["count"] == 0


async def test_upload_user_rules(client: AppClient) -> None:
    r = await client.post(
        "/api/v1/files/upload",
        files={"file": ("notes.txt", NOTES, "text/plain")},
        data={"user_id": "u-1"},
        headers={"X-User-ID": "u-2"},
    )
    assert r.status_code == 400 and "differs" in r.json()["detail"]
    r = await client.post(
        "/api/v1/files/upload",
        files={"file": ("notes.txt", NOTES, "text/plain")},
        data={"user_id": "not a valid id!"},
    )
    assert r.status_code == 422
