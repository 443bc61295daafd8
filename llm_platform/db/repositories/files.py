"""Files, their chunks and the ingestion job state kept on the file row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from llm_platform.core.file_status import FileStatus
from llm_platform.db.models import File, FileChunk, FileSection, utcnow
from llm_platform.db.repositories.base import Repository

_Row = TypeVar("_Row", FileChunk, FileSection)


class FileRepository(Repository[File]):
    model = File

    async def find_by_hash(self, user_id: str, sha256: str) -> File | None:
        return await self.session.scalar(
            select(File).where(File.user_id == user_id, File.sha256 == sha256)
        )

    async def list_for(self, user_id: str | None, *, limit: int, offset: int) -> Sequence[File]:
        stmt = select(File).order_by(File.created_at.desc(), File.id).limit(limit).offset(offset)
        if user_id is not None:
            stmt = stmt.where(File.user_id == user_id)
        return (await self.session.scalars(stmt)).all()

    async def ready_labels(
        self, user_id: str, file_ids: list[str] | None
    ) -> list[tuple[str, str, str]]:
        """(id, name, title) of the user's ready files (optionally among `file_ids`)."""
        stmt = select(File.id, File.name, File.title).where(
            File.user_id == user_id, File.status == FileStatus.READY
        )
        if file_ids is not None:
            stmt = stmt.where(File.id.in_(file_ids))
        return [(r[0], r[1], r[2] or "") for r in await self.session.execute(stmt)]

    async def owned_among(self, user_id: str, file_ids: list[str]) -> Sequence[File]:
        return (
            await self.session.scalars(
                select(File).where(File.user_id == user_id, File.id.in_(file_ids))
            )
        ).all()

    async def has_ready(self, user_id: str) -> bool:
        found = await self.session.scalar(
            select(File.id).where(File.user_id == user_id, File.status == FileStatus.READY).limit(1)
        )
        return found is not None

    async def claim(self, file_id: str, job_id: str, lease_until: datetime) -> File | None:
        """Take the job if it is still ours to run (idempotent delivery): queued with this job
        id, or processing under this job id with an expired lease."""
        now = utcnow()
        result = await self.session.execute(
            update(File)
            .where(
                File.id == file_id,
                File.job_id == job_id,
                or_(
                    File.status == FileStatus.QUEUED,
                    (File.status == FileStatus.PROCESSING) & (File.lease_until < now),
                ),
            )
            .values(
                status=FileStatus.PROCESSING,
                stage="starting",
                lease_until=lease_until,
                attempts=File.attempts + 1,
                updated_at=now,
            )
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            return None
        return await self.session.get(File, file_id, populate_existing=True)

    async def stale(
        self, now: datetime, queued_before: datetime, limit: int = 100
    ) -> Sequence[File]:
        """Unfinished files no live worker holds: queued ones whose job may be lost and
        processing ones whose lease ran out."""
        return (
            await self.session.scalars(
                select(File)
                .where(
                    or_(
                        (File.status == FileStatus.QUEUED) & (File.updated_at < queued_before),
                        (File.status == FileStatus.PROCESSING) & (File.lease_until < now),
                    )
                )
                .order_by(File.updated_at)
                .limit(limit)
            )
        ).all()

    async def outdated_embeddings(self, model: str, limit: int = 100) -> Sequence[File]:
        return (
            await self.session.scalars(
                select(File)
                .where(File.status == FileStatus.READY, File.embedding_model != model)
                .limit(limit)
            )
        ).all()


class ChunkRepository(Repository[FileChunk]):
    model = FileChunk

    async def delete_for_file(self, file_id: str) -> None:
        await self.session.execute(delete(FileChunk).where(FileChunk.file_id == file_id))
        await self.session.execute(delete(FileSection).where(FileSection.file_id == file_id))

    async def _rows_at(
        self,
        model: type[_Row],
        index: InstrumentedAttribute[Any],
        keys: set[tuple[str, int]],
        order_by: InstrumentedAttribute[Any] | None = None,
    ) -> list[_Row]:
        """Rows of `model` whose (file id, `index`) is among `keys`, one query per file."""
        by_file: dict[str, set[int]] = {}
        for file_id, i in keys:
            by_file.setdefault(file_id, set()).add(i)
        rows: list[_Row] = []
        for file_id, indexes in by_file.items():
            stmt = select(model).where(model.file_id == file_id, index.in_(indexes))
            if order_by is not None:
                stmt = stmt.order_by(order_by)
            rows += await self.session.scalars(stmt)
        return rows

    async def sections(self, keys: set[tuple[str, int]]) -> dict[tuple[str, int], FileSection]:
        """Sections by (file id, section index)."""
        rows = await self._rows_at(FileSection, FileSection.section_index, keys)
        return {(r.file_id, r.section_index): r for r in rows}

    async def section_chunks(
        self, keys: set[tuple[str, int]]
    ) -> dict[tuple[str, int], list[FileChunk]]:
        """The chunks of sections by (file id, section index), in document order."""
        out: dict[tuple[str, int], list[FileChunk]] = {}
        for r in await self._rows_at(
            FileChunk, FileChunk.section_index, keys, order_by=FileChunk.chunk_index
        ):
            out.setdefault((r.file_id, r.section_index or 0), []).append(r)
        return out

    async def neighbours(self, keys: set[tuple[str, int]]) -> dict[tuple[str, int], FileChunk]:
        """Chunks by (file id, chunk index): files ingested without sections."""
        rows = await self._rows_at(FileChunk, FileChunk.chunk_index, keys)
        return {(r.file_id, r.chunk_index): r for r in rows}

    async def count_for_file(self, file_id: str) -> int:
        return int(
            await self.session.scalar(
                select(func.count()).select_from(FileChunk).where(FileChunk.file_id == file_id)
            )
            or 0
        )

    async def with_file_names(self, ids: list[int]) -> dict[int, tuple[FileChunk, str]]:
        if not ids:
            return {}
        rows = await self.session.execute(
            select(FileChunk, File.name)
            .join(File, File.id == FileChunk.file_id)
            .where(FileChunk.id.in_(ids))
        )
        return {chunk.id: (chunk, name) for chunk, name in rows.all()}
