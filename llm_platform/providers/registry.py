"""Resolves `"provider:model"` names to a provider adapter and a model id.

Built in the app lifespan from settings (`build_registry`); tests register scripted providers.
"""

from __future__ import annotations

from llm_platform.providers.base import Provider
from llm_platform.providers.errors import UnknownProvider


class ProviderRegistry:
    def __init__(self) -> None:
        self._providers: dict[str, Provider] = {}

    def register(self, provider: Provider) -> None:
        self._providers[provider.name] = provider

    def get(self, name: str) -> Provider:
        try:
            return self._providers[name]
        except KeyError:
            known = ", ".join(sorted(self._providers)) or "none"
            raise UnknownProvider(
                name, f"Unknown provider '{name}' (configured: {known})"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._providers)

    def resolve(self, provider: str | None, model: str | None) -> tuple[Provider, str]:
        """`provider` may be None when `model` is a `"provider:model"` name."""
        if provider is None:
            if model is None or ":" not in model:
                raise UnknownProvider("?", "Name a provider, or a model as 'provider:model'")
            provider, model = model.split(":", 1)
        adapter = self.get(provider)
        return adapter, model or adapter.default_model

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
