"""Request and response bodies of the original client's session, history and token routes.

Field names are the old backend's, exactly. Unknown fields inside `environment` and an
event's `data` are kept; the old backend dropped them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llm_platform.schemas.common import ClientId, EventTypeName
from llm_platform.schemas.files import FileOut
from llm_platform.schemas.query import Attachment, HistoryMessage, QueryResponse
from llm_platform.schemas.sessions import Environment, SessionOut

# The old client lets a researcher type the experiment id freely ("Pilot study 2"), so it is
# not held to the stricter `ClientId` alphabet; only its length is bounded (the column's).
ExperimentName = Annotated[str, Field(min_length=1, max_length=128)]


class LegacyModel(BaseModel):
    # Fields the old client adds over time are ignored (as the old backend did), never a 422.
    model_config = ConfigDict(extra="ignore")


# --------------------------------------------------------------------------- sessions


class LegacySessionStart(LegacyModel):
    session_id: ClientId
    user_id: ClientId
    experiment_id: ExperimentName | None = None
    environment: Environment = Field(default_factory=Environment)

    @field_validator("experiment_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class LegacySessionEnd(LegacyModel):
    session_id: ClientId


class LegacyEventIn(LegacyModel):
    t: int = Field(ge=0, le=10**15, description="Client timestamp, ms since the epoch")
    type: EventTypeName  # the rule of `EventIn`, which the event is converted to
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("data", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


class LegacySessionEvent(LegacyModel):
    session_id: ClientId
    event: LegacyEventIn


class LegacyExperimentUpdate(BaseModel):
    """`{experiment_id}`; other fields the client sends (`model_group`) are kept too."""

    model_config = ConfigDict(extra="allow")
    experiment_id: ExperimentName


class LegacySessionStarted(SessionOut):
    status: Literal["created", "exists"]
    message: str
    existing: bool


class LegacyAck(BaseModel):
    session_id: str
    status: str
    message: str


class LegacyEventAck(LegacyAck):
    event_id: str


class LegacyEventOut(BaseModel):
    t: int
    type: str
    data: dict[str, Any]
    event_id: str
    received_at: datetime


class LegacySessionView(SessionOut):
    status: Literal["active", "ended"]
    start_time: datetime
    end_time: datetime | None
    event_count: int
    events: list[LegacyEventOut] | None = None


class LegacyExperimentOut(BaseModel):
    session_id: str
    experiment_id: str | None
    variant: str | None


# --------------------------------------------------------------------------- query history


class LegacyTokens(BaseModel):
    prompt: int
    completion: int
    total: int


class LegacyHistoryItem(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(serialization_alias="_id")
    query_id: str
    user_id: str
    session_id: str | None
    experiment_id: str | None
    query: str | None
    response: str | None
    reasoning: str | None
    model_provider: str
    model_used: str
    citations: list[dict[str, Any]]
    tokens: LegacyTokens | None
    latency_ms: float | None
    status: str
    error: str | None
    timestamp: datetime


class LegacyHistory(BaseModel):
    user_id: str
    total: int
    queries: list[LegacyHistoryItem]


# --------------------------------------------------------------------------- token dashboard


class TokenQuery(BaseModel):
    model_provider: str
    model_used: str
    tokens: LegacyTokens
    timestamp: datetime
    latency_ms: float | None


class TokenFilters(BaseModel):
    providers: list[str]
    models: list[str]


class TokenCounts(BaseModel):
    prompt: int = 0
    completion: int = 0
    total: int = 0


class TokenAggregates(BaseModel):
    total_prompt_tokens: int
    total_completion_tokens: int
    total_tokens: int
    model_usage_count: dict[str, int]
    provider_stats: dict[str, TokenCounts]
    model_stats: dict[str, TokenCounts]
    model_avg_latency: dict[str, float]


class TokenDashboard(BaseModel):
    queries: list[TokenQuery]
    filters: TokenFilters
    aggregated: TokenAggregates


# --------------------------------------------------------------------------- files


class LegacyFile(FileOut):
    """A v1 file with the old backend's names for the same fields."""

    file_id: str
    filename: str
    size: int
    mime_type: str
    uploaded_at: datetime
    processed: bool


class LegacyFileList(BaseModel):
    files: list[LegacyFile]
    count: int


# --------------------------------------------------------------------------- queries


class LegacyLocation(BaseModel):
    model_config = ConfigDict(extra="allow")
    latitude: float | None = None
    longitude: float | None = None
    accuracy: float | None = None


class LegacyQueryRequest(LegacyModel):
    """The body of `POST /api/v1/query/stream` and `POST /api/v1/query/` (useChat)."""

    user_id: ClientId
    session_id: ClientId | None = None
    query: str = Field(min_length=1)
    model_name: str | None = Field(default=None, max_length=256)
    model_provider: str | None = Field(default=None, max_length=64)
    web_search: bool = False
    use_memory: bool = False
    history: list[HistoryMessage] = Field(default_factory=list)
    location: LegacyLocation | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    mode: str | None = Field(default=None, max_length=32)

    @field_validator("history", "attachments", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class LegacyQueryResponse(QueryResponse):
    """The v1 answer plus the fields the old client reads (the agent graph's output)."""

    product_cards: list[dict[str, Any]] = Field(default_factory=list)
    options: list[str] = Field(default_factory=list)
    memory_context: dict[str, Any] = Field(default_factory=dict)
    notices: list[str] = Field(default_factory=list)
