"""What `GET /api/v1/models` returns: providers and their models with capabilities."""

from __future__ import annotations

from pydantic import BaseModel

from llm_platform.core.model_info import ModelInfo


class ProviderSummary(BaseModel):
    name: str
    configured: bool
    hint: str | None = None  # for unconfigured providers: what enables them


class ModelList(BaseModel):
    default_provider: str | None
    providers: list[ProviderSummary]
    models: list[ModelInfo]
