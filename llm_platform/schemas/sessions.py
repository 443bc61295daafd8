from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llm_platform.schemas.common import ClientId, Schema
from llm_platform.schemas.events import EventOut


class Viewport(BaseModel):
    model_config = ConfigDict(extra="allow")
    width: int | None = Field(default=None, ge=0, le=100_000)
    height: int | None = Field(default=None, ge=0, le=100_000)


class Environment(BaseModel):
    """What the client reports about itself. Unknown fields are kept, not dropped."""

    model_config = ConfigDict(extra="allow")
    device: str | None = Field(default=None, max_length=256)
    browser: str | None = Field(default=None, max_length=512)
    os: str | None = Field(default=None, max_length=256)
    viewport: Viewport | None = None
    language: str | None = Field(default=None, max_length=64)
    connection: str | dict[str, Any] | None = None
    location: dict[str, Any] | str | None = None


class SessionStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: ClientId | None = None
    user_id: ClientId | None = None
    experiment_id: ClientId | None = None
    environment: Environment = Field(default_factory=Environment)
    title: str | None = Field(default=None, max_length=512)


class SessionUpdate(BaseModel):
    """What a user may change on a session (the conversation's title)."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, max_length=512)


class SessionOut(Schema):
    session_id: str = Field(validation_alias="id")
    user_id: str
    experiment_id: str | None
    variant: str | None
    environment: dict[str, Any]
    title: str | None
    started_at: datetime
    ended_at: datetime | None


class SessionStarted(SessionOut):
    status: str  # "created" | "exists"


class SessionDetail(SessionOut):
    events: list[EventOut] | None = None
    event_count: int | None = None
