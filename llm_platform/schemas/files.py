from __future__ import annotations

from datetime import datetime

from pydantic import Field

from llm_platform.core.file_status import FileStatus
from llm_platform.schemas.common import Schema


class FileOut(Schema):
    id: str
    name: str
    media_type: str
    kind: str
    size_bytes: int
    sha256: str
    status: FileStatus = Field(description="queued | processing | ready | failed")
    stage: str | None = None
    progress: float
    page_count: int | None = None
    chunk_count: int
    char_count: int | None = None
    title: str | None = None
    error: str | None = None
    embedding_model: str | None = None
    created_at: datetime
    updated_at: datetime
    ready_at: datetime | None = None


class FileUploaded(FileOut):
    deduplicated: bool = Field(
        default=False, description="The same bytes were already uploaded: that file is returned"
    )


class FileList(Schema):
    items: list[FileOut]
    total: int | None = None
