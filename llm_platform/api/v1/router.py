from __future__ import annotations

from fastapi import APIRouter

from llm_platform.api.json_body import JSONRoute
from llm_platform.api.v1 import (
    agents,
    auth,
    events,
    experiments,
    files,
    health,
    models,
    products,
    queries,
    query,
    query_ws,
    rag,
    sessions,
    studies,
)

api_router = APIRouter(prefix="/api/v1", route_class=JSONRoute)
# In this order (it is the order of the OpenAPI document's paths).
for module in (
    health,
    auth,
    sessions,
    events,
    queries,
    experiments,
    studies,
    # providers / query / streaming
    models,
    query,
    query_ws,
    # files and RAG
    files,
    rag,
    # products (shopping)
    products,
    # agents
    agents,
):
    api_router.include_router(module.router)

# --- legacy compatibility ---
