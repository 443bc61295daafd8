"""A user's memories over the API: their own only (another user's id is a 404, like a
missing one); writes go through the memory store (vector, history, an event per change)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.agents import memory_store as store
from llm_platform.app_state import AppState
from llm_platform.core.errors import NotFound
from llm_platform.core.security import Principal
from llm_platform.db.models import Memory
from llm_platform.db.repositories.memories import MemoryRepository, MemorySwitchRepository
from llm_platform.rag.embeddings import Embedder
from llm_platform.rag.lifecycle import RagServices
from llm_platform.schemas.memories import MemoryCreate, MemorySearch, MemoryUpdate


def embedder_of(state: AppState) -> Embedder | None:
    """The RAG embedder, or None when files/RAG are off (search falls back to keywords)."""
    return state.rag.runtime.embedder if isinstance(state.rag, RagServices) else None


def _owner(principal: Principal) -> str:
    return principal.acting_user(None)


async def _owned(db: AsyncSession, principal: Principal, memory_id: str) -> Memory:
    record = await MemoryRepository(db).get_for_user(_owner(principal), memory_id)
    if record is None:
        raise NotFound("Memory not found")
    return record


async def create(
    db: AsyncSession, state: AppState, principal: Principal, payload: MemoryCreate
) -> Memory:
    return await store.add_memory(
        db,
        embedder_of(state),
        user_id=_owner(principal),
        text=payload.text,
        kind=payload.kind,
        reason="added by the user",
    )


async def list_page(
    db: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> tuple[Sequence[Memory], str | None]:
    return await MemoryRepository(db).list_page(_owner(principal), limit=limit, cursor=cursor)


async def get(db: AsyncSession, principal: Principal, memory_id: str) -> Memory:
    return await _owned(db, principal, memory_id)


async def update(
    db: AsyncSession, state: AppState, principal: Principal, memory_id: str, payload: MemoryUpdate
) -> Memory:
    record = await _owned(db, principal, memory_id)
    return await store.update_memory(
        db,
        embedder_of(state),
        record,
        text=payload.text,
        kind=payload.kind,
        reason="edited by the user",
    )


async def delete(db: AsyncSession, principal: Principal, memory_id: str) -> None:
    record = await _owned(db, principal, memory_id)
    await store.delete_memory(db, record, reason="deleted by the user")


async def search(
    db: AsyncSession, state: AppState, principal: Principal, payload: MemorySearch
) -> list[store.ScoredMemory]:
    """By meaning (or by keywords without an embedder); any score, best first."""
    return await store.search(
        db, embedder_of(state), _owner(principal), payload.query, limit=payload.limit
    )


async def enabled(db: AsyncSession, principal: Principal) -> bool:
    return await MemorySwitchRepository(db).enabled(_owner(principal))


async def set_enabled(db: AsyncSession, principal: Principal, value: bool) -> bool:
    await MemorySwitchRepository(db).set_enabled(_owner(principal), value)
    return value
