"""Which model an agent calls: a provider adapter and a model name."""

from __future__ import annotations

from dataclasses import dataclass

from llm_platform.providers.base import Provider


@dataclass(frozen=True, slots=True)
class LlmRef:
    provider: Provider
    model: str
