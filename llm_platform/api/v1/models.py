"""Models the deployment offers, as `"provider:model"` names with capabilities."""

from __future__ import annotations

from fastapi import APIRouter

from llm_platform.api.deps import CurrentUser, State
from llm_platform.schemas.models import ModelList, ProviderSummary

router = APIRouter(tags=["models"])


@router.get("/models", response_model=ModelList)
async def list_models(state: State, user: CurrentUser) -> ModelList:
    """Configured providers (and the ones missing a key), each provider's models from
    config and its list endpoint (cached), filtered by the allow-list."""
    registry = state.providers
    providers = [ProviderSummary(name=name, configured=True) for name in registry.names()]
    providers += [
        ProviderSummary(name=name, configured=False, hint=hint)
        for name, hint in registry.unconfigured().items()
    ]
    return ModelList(
        default_provider=registry.default_provider,
        providers=providers,
        models=await registry.list_models(),
    )
