from __future__ import annotations

import re
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

T = TypeVar("T")

_ID = re.compile(r"^[A-Za-z0-9._:@\-]+$")


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError("may contain only letters, digits and . _ : @ -")
    return value


# Identifiers chosen by clients (session ids, user ids, experiment ids, event ids).
ClientId = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_check_id)]
# Event ids are client UUIDs (or similar); the column is narrower.
EventId = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_check_id)]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
