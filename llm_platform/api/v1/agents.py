"""The multi-agent assistant's researcher routes: the coordinator's routing decision."""

from __future__ import annotations

from fastapi import APIRouter

from llm_platform.agents.intent import RoutingDecision
from llm_platform.api.deps import Staff, State
from llm_platform.schemas.intent import RouteRequest

router = APIRouter(prefix="/agents", tags=["agents"])


@router.post("/route", response_model=RoutingDecision)
async def route(payload: RouteRequest, state: State, user: Staff) -> RoutingDecision:
    """How the coordinator would route this message (intent, each stage's score and time),
    without running any agent; a model is called only when rules and embeddings are both
    unsure and `use_llm` is true. Researchers and admins only."""
    return await state.intent_router.route(
        payload.message,
        has_images=payload.has_images,
        has_files=payload.has_files,
        use_llm=payload.use_llm,
    )
