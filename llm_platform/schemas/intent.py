"""`POST /api/v1/agents/route`: the intent router's decision for one message."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from llm_platform.schemas.common import Schema

MAX_ROUTE_MESSAGE_CHARS = 20_000


class RouteRequest(Schema):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1, max_length=MAX_ROUTE_MESSAGE_CHARS)
    has_images: bool = False
    has_files: bool = False
    use_llm: bool = Field(
        default=True,
        description="Ask the LLM classifier when rules and embeddings are both unsure "
        "(false: never call a model)",
    )
