"""Uploads: stream to storage with a size limit, detect the type from the bytes, record,
queue the ingestion job; list, read, download and delete (blob, chunks and vectors)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import UploadFile
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from llm_platform.core.file_status import FileStatus
from llm_platform.core.security import NO_IDENTITY, Principal
from llm_platform.db.models import File, new_id, utcnow
from llm_platform.db.repositories.files import ChunkRepository, FileRepository
from llm_platform.rag.extract import zip_budget_from_settings
from llm_platform.rag.filetypes import (
    SNIFF_BYTES,
    ArchiveTooLarge,
    UnsupportedType,
    detect,
    sanitize_filename,
)
from llm_platform.rag.runtime import RagRuntime
from llm_platform.rag.storage import staging_dir

READ_BLOCK = 1024 * 1024


def owner_of(principal: Principal) -> str:
    """Files always have an owner: the caller (who must be someone)."""
    if principal.user_id is None:
        raise Unauthorized(NO_IDENTITY)
    return principal.user_id


@dataclass
class Staged:
    path: Path
    size: int
    sha256: str
    head: bytes


async def _stage(upload: UploadFile, staging: Path, max_bytes: int) -> Staged:
    """Copy the upload to a staging file block by block, hashing and counting on the way."""
    fd, name = tempfile.mkstemp(dir=staging, prefix="up-")
    path = Path(name)
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                block = await upload.read(READ_BLOCK)
                if not block:
                    break
                size += len(block)
                if size > max_bytes:
                    raise PayloadTooLarge(
                        f"File exceeds the {max_bytes // (1024 * 1024)} MB limit (MAX_FILE_SIZE_MB)"
                    )
                if len(head) < SNIFF_BYTES:
                    head += block[: SNIFF_BYTES - len(head)]
                digest.update(block)
                await asyncio.to_thread(out.write, block)
    except BaseException:
        path.unlink(missing_ok=True)  # noqa: ASYNC240 - a local unlink
        raise
    return Staged(path=path, size=size, sha256=digest.hexdigest(), head=head)


@dataclass
class UploadResult:
    file: File
    deduplicated: bool
    job: tuple[str, str] | None  # (file_id, job_id) to enqueue after commit


async def upload(
    db: AsyncSession, runtime: RagRuntime, principal: Principal, upload_file: UploadFile
) -> UploadResult:
    settings = runtime.settings
    owner = owner_of(principal)
    name = sanitize_filename(upload_file.filename)
    max_bytes = int(settings.MAX_FILE_SIZE_MB * 1024 * 1024)
    staged = await _stage(upload_file, staging_dir(settings), max_bytes)
    try:
        if staged.size == 0:
            raise BadRequest("File is empty")
        try:
            detected = await asyncio.to_thread(
                detect, staged.head, staged.path, name, zip_budget_from_settings(settings)
            )
        except UnsupportedType as exc:
            raise UnsupportedMediaType(str(exc)) from None
        except ArchiveTooLarge as exc:
            raise PayloadTooLarge(str(exc)) from None
        repo = FileRepository(db)
        existing = await repo.find_by_hash(owner, staged.sha256)
        if existing is not None:
            return _reuse(existing)
        file_id = new_id()
        record = File(
            id=file_id,
            user_id=owner,
            name=name,
            media_type=detected.media_type,
            kind=detected.kind.value,
            size_bytes=staged.size,
            sha256=staged.sha256,
            storage_key=file_id,
            status=FileStatus.QUEUED,
            progress=0.0,
            chunk_count=0,
            attempts=0,
            job_id=new_id(),
        )
        try:
            async with db.begin_nested():
                db.add(record)
                await db.flush()
        except IntegrityError:
            # The same bytes arrived concurrently: the other upload won.
            existing = await repo.find_by_hash(owner, staged.sha256)
            if existing is None:
                raise
            return _reuse(existing)
        await runtime.storage.put_file(file_id, staged.path)
        assert record.job_id is not None
        return UploadResult(record, False, (record.id, record.job_id))
    finally:
        staged.path.unlink(missing_ok=True)


def _reuse(existing: File) -> UploadResult:
    if existing.status == FileStatus.FAILED:
        existing.status = FileStatus.QUEUED
        existing.error = None
        existing.progress = 0.0
        existing.attempts = 0
        existing.job_id = new_id()
        existing.updated_at = utcnow()
        return UploadResult(existing, True, (existing.id, existing.job_id))
    return UploadResult(existing, True, None)


# Types a browser would run as a page or script: served back as plain text.
_ACTIVE_TYPES = ("html", "xml", "svg", "javascript", "ecmascript", "xhtml")


def content_type_and_headers(record: File) -> tuple[str, dict[str, str]]:
    """How a stored file is served back: as a download the browser never runs.

    Active content (HTML, SVG, XML, scripts) goes out as `text/plain`; every file carries
    `Content-Security-Policy: sandbox` (opened anyway, it runs no script, in no origin) and
    `nosniff` (the declared type is the one used)."""
    media_type = record.media_type
    if any(part in media_type.lower() for part in _ACTIVE_TYPES):
        media_type = "text/plain; charset=utf-8"
    ascii_name = record.name.encode("ascii", "replace").decode().replace('"', "_")
    return media_type, {
        "Content-Disposition": (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(record.name)}"
        ),
        "Content-Length": str(record.size_bytes),
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Content-Type-Options": "nosniff",
    }


async def get_visible(db: AsyncSession, principal: Principal, file_id: str) -> File:
    record = await FileRepository(db).get(file_id) if len(file_id) <= 64 else None
    if record is None:
        raise NotFound("File not found")
    principal.check_owner(record.user_id, "File")
    return record


async def list_visible(
    db: AsyncSession, principal: Principal, *, limit: int, offset: int
) -> Sequence[File]:
    user_filter = principal.user_filter(None)
    return await FileRepository(db).list_for(user_filter, limit=limit, offset=offset)


async def delete(db: AsyncSession, runtime: RagRuntime, principal: Principal, file_id: str) -> str:
    """Remove vectors, keyword entries, chunks and the row in this transaction; returns the
    storage key, whose blob the caller deletes once the transaction has committed."""
    record = await get_visible(db, principal, file_id)
    await runtime.store.delete_file(db, record.id)
    await ChunkRepository(db).delete_for_file(record.id)
    key = record.storage_key
    await FileRepository(db).delete(record)
    return key


async def delete_blob(runtime: RagRuntime, key: str) -> None:
    await runtime.storage.delete(key)


def require_ids(file_ids: list[str] | None) -> list[str] | None:
    if file_ids is None:
        return None
    if any(len(fid) > 64 for fid in file_ids):
        raise BadRequest("file_ids: invalid file id")
    return list(dict.fromkeys(file_ids))
