from __future__ import annotations

from fastapi import APIRouter

from llm_platform.api.v1 import events, experiments, health, queries, sessions

api_router = APIRouter(prefix="/api/v1")
for module in (health, sessions, events, queries, experiments):
    api_router.include_router(module.router)
