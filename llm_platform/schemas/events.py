from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_platform.schemas.common import ClientId, EventId, EventTypeName, Schema


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: EventId
    t: int = Field(ge=0, le=10**15, description="Client timestamp, ms since the epoch")
    type: EventTypeName
    data: dict[str, Any] = Field(default_factory=dict)


class EventBatch(BaseModel):
    """One event (`event`) or a batch (`events`, 1..MAX_EVENTS_PER_BATCH items)."""

    model_config = ConfigDict(extra="forbid")
    session_id: ClientId
    events: list[EventIn] | None = Field(default=None, min_length=1)
    event: EventIn | None = None

    @model_validator(mode="after")
    def _one_form(self) -> EventBatch:
        if (self.events is None) == (self.event is None):
            raise ValueError("send either 'event' (one) or 'events' (a batch)")
        return self

    @property
    def items(self) -> list[EventIn]:
        return self.events if self.events is not None else [self.event]  # type: ignore[list-item]


class EventsAccepted(BaseModel):
    accepted: list[str]
    duplicates: list[str]


class EventOut(Schema):
    event_id: str
    t: int
    type: str
    data: dict[str, Any]
    received_at: datetime
