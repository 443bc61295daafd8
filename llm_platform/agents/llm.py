"""Which model an agent calls: a provider adapter and a model id, resolved once in the
app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from llm_platform.providers.base import Provider
from llm_platform.providers.errors import ProviderError
from llm_platform.providers.registry import ProviderRegistry


@dataclass(frozen=True, slots=True)
class LlmRef:
    provider: Provider
    model: str


def resolve_llm(registry: ProviderRegistry, name: str | None) -> LlmRef | None:
    """`name` ("provider:model", or a model of the default provider; None: the default
    provider's default model), or None when no configured provider serves it."""
    try:
        provider, model = registry.resolve(None, name)
    except ProviderError:
        return None
    return LlmRef(provider=provider, model=model)
