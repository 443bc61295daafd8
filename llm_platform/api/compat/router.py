"""The legacy client's routes. `compat_router` is mounted after the v1 API: its paths do not
overlap v1's (`/api/v1/session/...` is not `/api/v1/sessions/...`)."""

from __future__ import annotations

from fastapi import APIRouter

from llm_platform.api.compat import files, history, sessions, tokens

compat_router = APIRouter()
compat_router.include_router(sessions.router, prefix="/api/v1")
compat_router.include_router(history.router, prefix="/api/v1")
compat_router.include_router(files.router, prefix="/api/v1")
compat_router.include_router(tokens.router)
