from __future__ import annotations

from fastapi import APIRouter

from llm_platform.api.v1 import events, experiments, health, models, queries, sessions

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(health.router)
api_router.include_router(sessions.router)
api_router.include_router(events.router)
api_router.include_router(queries.router)
api_router.include_router(experiments.router)
# --- providers / query / streaming ---
api_router.include_router(models.router)

# --- files and RAG ---

# --- legacy compatibility ---
