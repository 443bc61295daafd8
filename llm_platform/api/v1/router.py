from __future__ import annotations

from fastapi import APIRouter

from llm_platform.api.json_body import JSONRoute
from llm_platform.api.v1 import (
    auth,
    events,
    experiments,
    files,
    health,
    models,
    queries,
    query,
    query_ws,
    rag,
    sessions,
    studies,
)

api_router = APIRouter(prefix="/api/v1", route_class=JSONRoute)
api_router.include_router(health.router)
api_router.include_router(auth.router)
api_router.include_router(sessions.router)
api_router.include_router(events.router)
api_router.include_router(queries.router)
api_router.include_router(experiments.router)
api_router.include_router(studies.router)
# --- providers / query / streaming ---
api_router.include_router(models.router)
api_router.include_router(query.router)
api_router.include_router(query_ws.router)

# --- files and RAG ---
api_router.include_router(files.router)
api_router.include_router(rag.router)

# --- legacy compatibility ---
