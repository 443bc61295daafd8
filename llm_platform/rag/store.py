"""Vector + keyword index behind one interface, in the application database itself.

SQLite (store_sqlite.py): sqlite-vec `vec0` tables of binary-quantized vectors for a coarse
scan, exact float vectors in a plain table to rescore its candidates, and FTS5.
PostgreSQL (store_pg.py): pgvector tables with an HNSW index and a tsvector table with GIN.
Every search filters by user (and file ids) inside the SQL, never after it. All calls take
the caller's session, so vectors are written and deleted in the caller's transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from llm_platform.rag.embeddings import Vectors


@dataclass(frozen=True)
class IndexEntry:
    chunk_id: int
    user_id: str
    file_id: str
    search_text: str
    vector: Vectors


@dataclass(frozen=True)
class ScoredId:
    chunk_id: int
    score: float  # vector: cosine similarity; keyword: engine relevance (higher is better)


class VectorStoreUnavailable(Exception):
    pass


class VectorStore(Protocol):
    name: str

    async def ensure(self, engine: AsyncEngine, dimension: int) -> None: ...

    async def add(
        self, session: AsyncSession, model: str, dimension: int, entries: list[IndexEntry]
    ) -> None: ...

    async def delete_file(self, session: AsyncSession, file_id: str) -> None: ...

    async def vector_search(
        self,
        session: AsyncSession,
        *,
        model: str,
        dimension: int,
        query: Vectors,
        user_id: str,
        file_ids: list[str] | None,
        k: int,
        exact: bool = False,
    ) -> list[ScoredId]: ...

    async def keyword_search(
        self,
        session: AsyncSession,
        *,
        terms: list[str],
        user_id: str,
        file_ids: list[str] | None,
        k: int,
    ) -> list[ScoredId]: ...

    async def similarities(
        self,
        session: AsyncSession,
        *,
        dimension: int,
        query: Vectors,
        chunk_ids: list[int],
    ) -> dict[int, float]: ...


_WORDCHAR = re.compile(r"\w", re.UNICODE)


def clean_terms(terms: list[str]) -> list[str]:
    """Search terms, each matched as a phrase by the engine's own tokenizer ('fy 2023',
    '10-k', '1,234.5' stay whole); quotes removed, terms without a word character dropped."""
    out: list[str] = []
    for term in terms:
        clean = " ".join(term.lower().replace('"', " ").split())
        if clean and _WORDCHAR.search(clean) and clean not in out:
            out.append(clean)
    return out[:64]


def vec_table(dimension: int) -> str:
    return f"chunk_vec_{int(dimension)}"


def file_filter(column: str, file_ids: list[str] | None) -> str:
    return f" AND {column} IN :file_ids" if file_ids is not None else ""


def params_for(stmt: str, file_ids: list[str] | None) -> tuple[TextClause, dict[str, object]]:
    clause = text(stmt)
    params: dict[str, object] = {}
    if file_ids is not None:
        clause = clause.bindparams(bindparam("file_ids", expanding=True))
        params["file_ids"] = list(file_ids) or ["-"]
    return clause, params


async def scope_size(session: AsyncSession, user_id: str, file_ids: list[str] | None) -> int:
    """Chunks in a search's scope by the files' counts (a few rows, not the chunk index)."""
    stmt, params = params_for(
        "SELECT coalesce(sum(chunk_count), 0) FROM files WHERE user_id = :u"
        + file_filter("id", file_ids),
        file_ids,
    )
    params["u"] = user_id
    return int((await session.execute(stmt, params)).scalar_one())


def build_store(dialect: str, ef_search: int = 200) -> VectorStore:
    if dialect == "sqlite":
        from llm_platform.rag.store_sqlite import SqliteVecStore

        return SqliteVecStore()
    from llm_platform.rag.store_pg import PgVectorStore

    return PgVectorStore(ef_search)
