"""The legacy client's routes.

`priority_router` is mounted before the v1 API: it claims `POST /api/v1/query/stream` only
for requests wanting the old stream format (see `query.py`) and answers the old client's
`POST /api/v1/query/` (trailing slash). `legacy_router` is mounted after the v1 API: its
paths do not overlap v1's (`/api/v1/session/...` is not `/api/v1/sessions/...`).
"""

from __future__ import annotations

from fastapi import APIRouter

from llm_platform.api.legacy import files, history, query, sessions, tokens

priority_router = APIRouter()
priority_router.include_router(query.stream_router)
priority_router.include_router(query.router)

legacy_router = APIRouter()
legacy_router.include_router(sessions.router, prefix="/api/v1")
legacy_router.include_router(history.router, prefix="/api/v1")
legacy_router.include_router(files.router, prefix="/api/v1")
legacy_router.include_router(tokens.router)
