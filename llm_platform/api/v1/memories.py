"""The caller's memories: list, read, edit, delete, search by meaning, on/off."""

from __future__ import annotations

from fastapi import APIRouter, Response

from llm_platform.api.deps import CurrentUser, DbSession, State
from llm_platform.api.json_body import JSONRoute
from llm_platform.api.params import Cursor, Limit, PathId
from llm_platform.schemas.common import Page
from llm_platform.schemas.memories import (
    Memory,
    MemoryCreate,
    MemoryHit,
    MemorySearch,
    MemorySearchResult,
    MemorySettings,
    MemoryUpdate,
)
from llm_platform.services import memories as memory_service

router = APIRouter(prefix="/memories", tags=["memories"], route_class=JSONRoute)


@router.get("/settings", response_model=MemorySettings)
async def get_settings(db: DbSession, user: CurrentUser) -> MemorySettings:
    """Whether the assistant remembers you across conversations."""
    return MemorySettings(enabled=await memory_service.enabled(db, user))


@router.put("/settings", response_model=MemorySettings)
async def put_settings(payload: MemorySettings, db: DbSession, user: CurrentUser) -> MemorySettings:
    return MemorySettings(enabled=await memory_service.set_enabled(db, user, payload.enabled))


@router.post("/search", response_model=MemorySearchResult)
async def search_memories(
    payload: MemorySearch, db: DbSession, user: CurrentUser, state: State
) -> MemorySearchResult:
    """Your memories closest in meaning to `query`, best first."""
    hits = await memory_service.search(db, state, user, payload)
    return MemorySearchResult(
        items=[
            MemoryHit.model_validate(
                {**Memory.model_validate(h.memory).model_dump(), "score": h.score}
            )
            for h in hits
        ]
    )


@router.post("", response_model=Memory, status_code=201)
async def create_memory(
    payload: MemoryCreate, db: DbSession, user: CurrentUser, state: State
) -> Memory:
    return Memory.model_validate(await memory_service.create(db, state, user, payload))


@router.get("", response_model=Page[Memory])
async def list_memories(
    db: DbSession, user: CurrentUser, limit: Limit = 50, cursor: Cursor = None
) -> Page[Memory]:
    """Newest first, in cursor pages."""
    rows, next_cursor = await memory_service.list_page(db, user, limit=limit, cursor=cursor)
    return Page(items=[Memory.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{memory_id}", response_model=Memory)
async def get_memory(memory_id: PathId, db: DbSession, user: CurrentUser) -> Memory:
    return Memory.model_validate(await memory_service.get(db, user, memory_id))


@router.patch("/{memory_id}", response_model=Memory)
async def update_memory(
    memory_id: PathId, payload: MemoryUpdate, db: DbSession, user: CurrentUser, state: State
) -> Memory:
    """Edit a memory: the id stays, the old text goes to its history."""
    return Memory.model_validate(await memory_service.update(db, state, user, memory_id, payload))


@router.delete("/{memory_id}", status_code=204)
async def delete_memory(memory_id: PathId, db: DbSession, user: CurrentUser) -> Response:
    await memory_service.delete(db, user, memory_id)
    return Response(status_code=204)
