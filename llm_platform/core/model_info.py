"""What a model can do and how the model list names it: built by the providers, served by
`/api/v1/models` (a neutral module: providers and schemas both import it)."""

from __future__ import annotations

from pydantic import BaseModel


class ModelCapabilities(BaseModel):
    streaming: bool = True
    reasoning: bool = False
    vision: bool = False
    tools: bool = False
    web_search: bool = False
    max_output_tokens: int | None = None


class ModelInfo(BaseModel):
    provider: str
    model: str
    capabilities: ModelCapabilities
    default: bool = False
