"""Where uploaded bytes live: a local directory by default, an S3-compatible bucket as an option.

Blobs are stored under generated keys only; user-supplied names never reach a path."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from llm_platform.core.config import Settings, StorageBackend

_KEY = re.compile(r"^[a-f0-9]{32}$")
READ_CHUNK = 1024 * 1024


def _check_key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"invalid storage key {key!r}")
    return key


class BlobStorage(Protocol):
    name: str

    async def put_file(self, key: str, source: Path) -> None:
        """Take ownership of `source` (a staged local file) and store it under `key`."""

    @asynccontextmanager
    def local_path(self, key: str) -> AsyncIterator[Path]:
        """A local file with the blob's bytes for as long as the context lasts."""

    def iter_bytes(self, key: str) -> AsyncIterator[bytes]: ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...


class LocalStorage:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        key = _check_key(key)
        return self.root / key[:2] / key

    async def put_file(self, key: str, source: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Staging lives under the same root: a rename, not a copy.
        await asyncio.to_thread(shutil.move, source, target)

    @asynccontextmanager
    async def local_path(self, key: str) -> AsyncIterator[Path]:
        path = self._path(key)
        if not path.exists():
            raise FileNotFoundError(key)
        yield path

    async def iter_bytes(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        with path.open("rb") as fh:
            while True:
                block = await asyncio.to_thread(fh.read, READ_CHUNK)
                if not block:
                    return
                yield block

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def exists(self, key: str) -> bool:
        return self._path(key).exists()


class S3Storage:
    """Any S3-compatible store (AWS, MinIO, Ceph, moto); boto3 calls run in threads."""

    name = "s3"

    def __init__(self, settings: Settings, staging: Path) -> None:
        import boto3

        if not settings.S3_BUCKET:
            raise ValueError("S3_BUCKET is required when STORAGE_BACKEND=s3")
        self.bucket = settings.S3_BUCKET
        self.staging = staging
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=settings.S3_ENDPOINT_URL,
            region_name=settings.S3_REGION,
            aws_access_key_id=(
                settings.S3_ACCESS_KEY_ID.get_secret_value() if settings.S3_ACCESS_KEY_ID else None
            ),
            aws_secret_access_key=(
                settings.S3_SECRET_ACCESS_KEY.get_secret_value()
                if settings.S3_SECRET_ACCESS_KEY
                else None
            ),
        )

    async def put_file(self, key: str, source: Path) -> None:
        await asyncio.to_thread(self.client.upload_file, str(source), self.bucket, _check_key(key))
        await asyncio.to_thread(source.unlink, True)

    @asynccontextmanager
    async def local_path(self, key: str) -> AsyncIterator[Path]:
        fd, name = tempfile.mkstemp(dir=self.staging, prefix="s3-")
        os.close(fd)
        path = Path(name)
        try:
            await asyncio.to_thread(self.client.download_file, self.bucket, _check_key(key), name)
            yield path
        finally:
            await asyncio.to_thread(path.unlink, True)

    async def iter_bytes(self, key: str) -> AsyncIterator[bytes]:
        obj = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=key)
        body = obj["Body"]
        try:
            while True:
                block = await asyncio.to_thread(body.read, READ_CHUNK)
                if not block:
                    return
                yield block
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=_check_key(key))

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=key)
        except ClientError:
            return False
        return True


def staging_dir(settings: Settings) -> Path:
    path = settings.DATA_DIR / "uploads" / ".staging"
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_storage(settings: Settings) -> BlobStorage:
    staging = staging_dir(settings)
    if settings.STORAGE_BACKEND is StorageBackend.S3:
        return S3Storage(settings, staging)
    return LocalStorage(settings.DATA_DIR / "uploads")
