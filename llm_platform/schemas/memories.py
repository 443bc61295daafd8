"""The memories API: a user's own remembered facts and preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from llm_platform.schemas.common import Schema

MAX_MEMORY_CHARS = 1000
MemoryKind = Literal["fact", "preference"]
# Text a person wrote: newlines allowed, no NUL or other control characters but tab/newline.
MemoryText = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=MAX_MEMORY_CHARS,
        pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$",
    ),
]


class MemoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: MemoryText
    kind: MemoryKind = "fact"


class MemoryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: MemoryText | None = None
    kind: MemoryKind | None = None


class MemoryHistoryEntry(BaseModel):
    text: str
    changed_at: datetime
    reason: str


class Memory(Schema):
    id: str
    text: str
    kind: MemoryKind
    source_session_id: str | None
    source_query_id: str | None
    source_time: datetime | None
    history: list[MemoryHistoryEntry]
    created_at: datetime
    updated_at: datetime


class MemorySearch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: MemoryText
    limit: int = Field(default=10, ge=1, le=50)


class MemoryHit(Memory):
    score: float


class MemorySearchResult(BaseModel):
    items: list[MemoryHit]


class MemorySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool
