"""A user's memories as a store: written with their vector and an `events` row per change,
searched by meaning (cosine over the user's vectors, in numpy) or, without an embedder, by
keywords. The memory agent and the memories service both write through here."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.logging import get_logger
from llm_platform.db.models import Memory, new_id, utcnow
from llm_platform.db.repositories.events import EventRepository
from llm_platform.db.repositories.memories import MemoryRepository
from llm_platform.db.repositories.sessions import SessionRepository
from llm_platform.rag.embeddings import Embedder, Vectors

log = get_logger("llm_platform.memories")

MemoryAction = Literal["add", "update", "delete", "none"]
EVENT_TYPES: dict[str, str] = {
    "add": "memory_added",
    "update": "memory_updated",
    "delete": "memory_deleted",
}
MAX_MEMORY_CHARS = 1000
MAX_HISTORY = 20  # earlier texts kept per memory

_WORD = re.compile(r"\w+", re.UNICODE)
# Words that say nothing about which memory is meant (keyword fallback only).
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "do",
        "does",
        "did",
        "for",
        "from",
        "has",
        "have",
        "i",
        "i'm",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "about",
        "am",
        "can",
        "how",
        "know",
        "remember",
    ]
)


@dataclass(frozen=True, slots=True)
class ScoredMemory:
    memory: Memory
    score: float


def normalised(text: str) -> str:
    """For exact-duplicate checks: case, punctuation and spacing ignored."""
    return " ".join(_WORD.findall(text.lower()))


def keywords(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if len(word) > 2 and word not in _STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)[:32]


def to_blob(vector: Vectors) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_blob(blob: bytes) -> Vectors:
    return np.frombuffer(blob, dtype=np.float32)


async def _vectors(db: AsyncSession, embedder: Embedder, rows: list[Memory]) -> Vectors:
    """The rows' vectors; rows without one from this embedder are embedded now and stored
    (memories written while no embedder was available, or by another model)."""
    stale = [
        r
        for r in rows
        if r.embedding is None
        or r.embedding_model != embedder.model_name
        or len(r.embedding) != 4 * embedder.dimension
    ]
    if stale:
        fresh = await embedder.embed_documents([r.text for r in stale])
        for row, vector in zip(stale, fresh, strict=True):
            row.embedding = to_blob(vector)
            row.embedding_model = embedder.model_name
        await db.flush()
    if not rows:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.vstack([from_blob(r.embedding or b"") for r in rows])


async def search(
    db: AsyncSession,
    embedder: Embedder | None,
    user_id: str,
    query: str,
    *,
    limit: int,
    min_score: float | None = None,
) -> list[ScoredMemory]:
    """The user's memories closest to `query`, best first: cosine similarity of the
    embeddings, or (no embedder) the share of the query's keywords a memory contains."""
    repo = MemoryRepository(db)
    if embedder is not None:
        rows = await repo.all_for_user(user_id)
        if not rows:
            return []
        matrix = await _vectors(db, embedder, rows)
        scores = matrix @ np.asarray(await embedder.embed_query(query), dtype=np.float32)
        order = np.argsort(-scores, kind="stable")
        ranked = [ScoredMemory(rows[i], float(scores[i])) for i in order]
    else:
        terms = keywords(query)
        rows = await repo.matching_terms(user_id, terms)
        ranked = []
        for row in rows:
            words = set(_WORD.findall(row.text.lower()))
            hits = sum(1 for t in terms if t in words or t in row.text.lower())
            ranked.append(ScoredMemory(row, hits / len(terms)))
        ranked.sort(key=lambda s: -s.score)
    if min_score is not None:
        ranked = [s for s in ranked if s.score >= min_score]
    return ranked[:limit]


async def _embedding(embedder: Embedder | None, text: str) -> tuple[bytes | None, str | None]:
    if embedder is None:
        return None, None
    vector = (await embedder.embed_documents([text]))[0]
    return to_blob(vector), embedder.model_name


async def log_change(
    db: AsyncSession,
    *,
    user_id: str,
    session_id: str | None,
    action: str,
    memory: Memory,
    reason: str,
) -> None:
    """An `events` row for a memory write, in the conversation it happened in (events belong
    to a session: with no session of this user known, the change is only logged)."""
    data: dict[str, Any] = {"memory_id": memory.id, "kind": memory.kind, "reason": reason}
    if action != "delete":
        data["text"] = memory.text
    owner = await SessionRepository(db).owner_of(session_id) if session_id else None
    if owner != user_id or session_id is None:
        log.info("memory_change", action=action, memory_id=memory.id, reason=reason)
        return
    await EventRepository(db).insert_new(
        [
            {
                "session_id": session_id,
                "event_id": f"memory-{new_id()}",
                "t": int(time.time() * 1000),
                "type": EVENT_TYPES[action],
                "data": data,
                "received_at": utcnow(),
            }
        ]
    )


async def add_memory(
    db: AsyncSession,
    embedder: Embedder | None,
    *,
    user_id: str,
    text: str,
    kind: str,
    reason: str,
    session_id: str | None = None,
    query_id: str | None = None,
    source_time: datetime | None = None,
) -> Memory:
    text = text.strip()[:MAX_MEMORY_CHARS]
    blob, model = await _embedding(embedder, text)
    now = utcnow()
    record = Memory(
        id=new_id(),
        user_id=user_id,
        text=text,
        kind=kind,
        embedding=blob,
        embedding_model=model,
        source_session_id=session_id,
        source_query_id=query_id,
        source_time=source_time,
        history=[],
        created_at=now,
        updated_at=now,
    )
    await MemoryRepository(db).add(record)
    await log_change(
        db, user_id=user_id, session_id=session_id, action="add", memory=record, reason=reason
    )
    return record


async def update_memory(
    db: AsyncSession,
    embedder: Embedder | None,
    record: Memory,
    *,
    text: str | None,
    kind: str | None,
    reason: str,
    session_id: str | None = None,
) -> Memory:
    """Same id; a changed text pushes the old one onto the memory's history. Nothing
    changed: nothing written, no event."""
    now = utcnow()
    new_text = (text or "").strip()
    if (not new_text or new_text == record.text) and (kind is None or kind == record.kind):
        return record
    if text is not None and text.strip() and text.strip() != record.text:
        new_text = text.strip()[:MAX_MEMORY_CHARS]
        entry = {"text": record.text, "changed_at": now.isoformat(), "reason": reason}
        record.history = [*(record.history or []), entry][-MAX_HISTORY:]
        record.text = new_text
        record.embedding, record.embedding_model = await _embedding(embedder, new_text)
    if kind is not None:
        record.kind = kind
    record.updated_at = now
    await db.flush()
    await log_change(
        db,
        user_id=record.user_id,
        session_id=session_id or record.source_session_id,
        action="update",
        memory=record,
        reason=reason,
    )
    return record


async def delete_memory(
    db: AsyncSession, record: Memory, *, reason: str, session_id: str | None = None
) -> None:
    await log_change(
        db,
        user_id=record.user_id,
        session_id=session_id or record.source_session_id,
        action="delete",
        memory=record,
        reason=reason,
    )
    await MemoryRepository(db).delete(record)
