from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from llm_platform.core.identifiers import ID_PATTERN, MAX_ID_CHARS

T = TypeVar("T")

# Identifiers chosen by clients (session ids, user ids, experiment ids, event ids).
ClientId = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, pattern=ID_PATTERN)]
# Event ids are client UUIDs (or similar); the column is narrower.
EventId = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]

# Event types: any printable text (no NUL or control characters), as `EventIn` and the
# legacy event schema both accept.
EventTypeName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]
# A bounded free-text value with no NUL or control character (what PostgreSQL stores and
# compares): names of providers and models, search terms, labels.
SafeStr = Annotated[
    str, StringConstraints(min_length=1, max_length=512, pattern=r"^[^\x00-\x1f\x7f]+$")
]


def as_utc(value: datetime) -> datetime:
    """Dates from clients in UTC: an aware date converted, a naive one taken as UTC (within a
    day of year 1 or 9999 the conversion overflows: clamped, as the database column does)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if value.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC)


# A date from a client, normalised to UTC (naive = UTC), so any two compare.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
