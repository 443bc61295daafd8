"""Blob storage: the local directory and an S3-compatible server (moto, on 127.0.0.1)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_platform.core.config import Settings, StorageBackend
from llm_platform.rag.storage import BlobStorage, LocalStorage, S3Storage


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_storage(endpoint: str, tmp_path: Path) -> S3Storage:
    settings = Settings(
        _env_file=None,
        STORAGE_BACKEND=StorageBackend.S3,
        S3_BUCKET="uploads",
        S3_ENDPOINT_URL=endpoint,
        S3_ACCESS_KEY_ID="test",
        S3_SECRET_ACCESS_KEY="test",
    )
    storage = S3Storage(settings, tmp_path)
    storage.client.create_bucket(Bucket="uploads")
    return storage


@pytest.mark.parametrize("backend", ["local", "s3"])
async def test_put_read_delete(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    storage: BlobStorage
    if backend == "local":
        storage = LocalStorage(tmp_path / "uploads")
    else:
        storage = s3_storage(request.getfixturevalue("s3_endpoint"), tmp_path)
    key = "a" * 32
    payload = b"x" * (3 * 1024 * 1024 + 17)
    staged = tmp_path / "staged"
    staged.write_bytes(payload)
    await storage.put_file(key, staged)
    assert not staged.exists() and await storage.exists(key)
    async with storage.local_path(key) as path:
        assert path.read_bytes() == payload
    assert b"".join([b async for b in storage.iter_bytes(key)]) == payload
    await storage.delete(key)
    assert not await storage.exists(key)


async def test_keys_cannot_escape(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "uploads")
    with pytest.raises(ValueError):
        await storage.delete("../../etc/passwd")
