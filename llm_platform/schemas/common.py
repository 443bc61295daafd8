from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

# Letters, digits and . _ : @ - (checked by pydantic-core's regex engine: this runs for
# every event of every batch, and `$` there really means the end, newline or not).
ID_PATTERN = r"^[A-Za-z0-9._:@\-]+$"

# Identifiers chosen by clients (session ids, user ids, experiment ids, event ids).
ClientId = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)]
# Event ids are client UUIDs (or similar); the column is narrower.
EventId = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
