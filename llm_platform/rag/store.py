"""Vector + keyword index behind one interface, in the application database itself.

SQLite: sqlite-vec `vec0` tables (exact L2 scan over unit vectors, partitioned by user and
model, file id as metadata) and FTS5.
PostgreSQL: pgvector tables with an HNSW index and a tsvector table with GIN.
Every search filters by user (and file ids) inside the SQL, never after it. All calls take
the caller's session, so vectors are written and deleted in the caller's transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np
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


_TERM = re.compile(r"[^\w]+", re.UNICODE)


def clean_terms(terms: list[str]) -> list[str]:
    out: list[str] = []
    for term in terms:
        for part in _TERM.split(term.lower()):
            if part and part not in out:
                out.append(part)
    return out[:64]


def vec_table(dimension: int) -> str:
    return f"chunk_vec_{int(dimension)}"


def _file_filter(column: str, file_ids: list[str] | None) -> str:
    return f" AND {column} IN :file_ids" if file_ids is not None else ""


def _params(stmt: str, file_ids: list[str] | None) -> tuple[TextClause, dict[str, object]]:
    clause = text(stmt)
    params: dict[str, object] = {}
    if file_ids is not None:
        clause = clause.bindparams(bindparam("file_ids", expanding=True))
        params["file_ids"] = list(file_ids) or ["-"]
    return clause, params


class SqliteVecStore:
    name = "sqlite-vec"

    async def ensure(self, engine: AsyncEngine, dimension: int) -> None:
        async with engine.begin() as conn:
            try:
                await conn.execute(text("SELECT vec_version()"))
            except Exception as exc:
                raise VectorStoreUnavailable(
                    "sqlite-vec is not loadable (install sqlite-vec and sqlean-py)"
                ) from exc
            await conn.execute(
                text(
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS {vec_table(dimension)} USING vec0("
                    "chunk_id integer primary key, user_id text partition key,"
                    " model text partition key, file_id text,"
                    f" embedding float[{int(dimension)}])"
                )
            )

    async def add(
        self, session: AsyncSession, model: str, dimension: int, entries: list[IndexEntry]
    ) -> None:
        if not entries:
            return
        await session.execute(
            text(
                f"INSERT INTO {vec_table(dimension)}(chunk_id, user_id, file_id, model, embedding)"
                " VALUES (:chunk_id, :user_id, :file_id, :model, :embedding)"
            ),
            [
                {
                    "chunk_id": e.chunk_id,
                    "user_id": e.user_id,
                    "file_id": e.file_id,
                    "model": model,
                    "embedding": np.asarray(e.vector, dtype=np.float32).tobytes(),
                }
                for e in entries
            ],
        )
        await session.execute(
            text("INSERT INTO chunk_fts(rowid, body) VALUES (:id, :body)"),
            [{"id": e.chunk_id, "body": e.search_text} for e in entries],
        )

    async def _vec_tables(self, session: AsyncSession) -> list[str]:
        rows = await session.execute(
            text(
                "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'chunk_vec_%'"
                " AND sql LIKE '%vec0%'"
            )
        )
        return [r[0] for r in rows]

    async def delete_file(self, session: AsyncSession, file_id: str) -> None:
        rows = await session.execute(
            text("SELECT id FROM file_chunks WHERE file_id = :f"), {"f": file_id}
        )
        ids = [{"id": int(r[0])} for r in rows]
        if not ids:
            return
        # Point deletes: vec0 turns `IN (...)` into a scan of every vector.
        for table in await self._vec_tables(session):
            await session.execute(text(f"DELETE FROM {table} WHERE chunk_id = :id"), ids)
        await session.execute(text("DELETE FROM chunk_fts WHERE rowid = :id"), ids)

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
    ) -> list[ScoredId]:
        stmt, params = _params(
            f"SELECT chunk_id, distance FROM {vec_table(dimension)}"
            " WHERE embedding MATCH :q AND k = :k AND user_id = :u AND model = :m"
            + _file_filter("file_id", file_ids),
            file_ids,
        )
        params.update(q=np.asarray(query, dtype=np.float32).tobytes(), k=k, u=user_id, m=model)
        rows = await session.execute(stmt, params)
        # Unit vectors: the L2 scan is SIMD-accelerated in sqlite-vec (cosine is not) and
        # ranks the same; cosine similarity = 1 - d^2 / 2.
        return [ScoredId(int(r[0]), 1.0 - float(r[1]) ** 2 / 2) for r in rows]

    async def keyword_search(
        self,
        session: AsyncSession,
        *,
        terms: list[str],
        user_id: str,
        file_ids: list[str] | None,
        k: int,
    ) -> list[ScoredId]:
        words = clean_terms(terms)
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        stmt, params = _params(
            "SELECT chunk_fts.rowid, bm25(chunk_fts) AS s FROM chunk_fts"
            " JOIN file_chunks c ON c.id = chunk_fts.rowid"
            " WHERE chunk_fts MATCH :match AND c.user_id = :u"
            + _file_filter("c.file_id", file_ids)
            + " ORDER BY s LIMIT :k",
            file_ids,
        )
        params.update(match=match, u=user_id, k=k)
        rows = await session.execute(stmt, params)
        return [ScoredId(int(r[0]), -float(r[1])) for r in rows]

    async def similarities(
        self, session: AsyncSession, *, dimension: int, query: Vectors, chunk_ids: list[int]
    ) -> dict[int, float]:
        if not chunk_ids:
            return {}
        # vec0 answers `chunk_id = ?` by lookup but `chunk_id IN (...)` by a full scan.
        table = vec_table(dimension)
        parts = [
            f"SELECT chunk_id, vec_distance_cosine(embedding, :q) FROM {table}"
            f" WHERE chunk_id = :id{n}"
            for n in range(len(chunk_ids))
        ]
        params: dict[str, object] = {f"id{n}": int(cid) for n, cid in enumerate(chunk_ids)}
        params["q"] = np.asarray(query, dtype=np.float32).tobytes()
        rows = await session.execute(text(" UNION ALL ".join(parts)), params)
        return {int(r[0]): 1.0 - float(r[1]) for r in rows}


def _pg_vector(vector: Vectors) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in np.asarray(vector, dtype=np.float32)) + "]"


class PgVectorStore:
    name = "pgvector"

    def __init__(self, ef_search: int = 200) -> None:
        self.ef_search = ef_search

    async def ensure(self, engine: AsyncEngine, dimension: int) -> None:
        table = vec_table(dimension)
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('llmp_vec_schema'))"))
            try:
                await conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            except Exception as exc:
                raise VectorStoreUnavailable(
                    "pgvector is not available in this PostgreSQL (CREATE EXTENSION vector)"
                ) from exc
            await conn.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {table} ("
                    " chunk_id BIGINT PRIMARY KEY REFERENCES file_chunks(id) ON DELETE CASCADE,"
                    " user_id VARCHAR(128) NOT NULL, file_id VARCHAR(32) NOT NULL,"
                    f" model VARCHAR(256) NOT NULL, embedding vector({int(dimension)}) NOT NULL)"
                )
            )
            await conn.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS ix_{table}_hnsw ON {table}"
                    " USING hnsw (embedding vector_cosine_ops)"
                )
            )
            await conn.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS ix_{table}_user_file ON {table} (user_id, file_id)"
                )
            )

    async def add(
        self, session: AsyncSession, model: str, dimension: int, entries: list[IndexEntry]
    ) -> None:
        if not entries:
            return
        await session.execute(
            text(
                f"INSERT INTO {vec_table(dimension)}(chunk_id, user_id, file_id, model, embedding)"
                " VALUES (:chunk_id, :user_id, :file_id, :model, CAST(:embedding AS vector))"
            ),
            [
                {
                    "chunk_id": e.chunk_id,
                    "user_id": e.user_id,
                    "file_id": e.file_id,
                    "model": model,
                    "embedding": _pg_vector(e.vector),
                }
                for e in entries
            ],
        )
        await session.execute(
            text(
                "INSERT INTO chunk_fts(chunk_id, user_id, file_id, tsv)"
                " VALUES (:id, :u, :f, to_tsvector('english', :body))"
            ),
            [
                {"id": e.chunk_id, "u": e.user_id, "f": e.file_id, "body": e.search_text}
                for e in entries
            ],
        )

    async def delete_file(self, session: AsyncSession, file_id: str) -> None:
        rows = await session.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename LIKE 'chunk_vec_%'"
            )
        )
        for (table,) in rows.all():
            await session.execute(text(f"DELETE FROM {table} WHERE file_id = :f"), {"f": file_id})
        await session.execute(text("DELETE FROM chunk_fts WHERE file_id = :f"), {"f": file_id})

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
    ) -> list[ScoredId]:
        if exact:
            await session.execute(text("SET LOCAL enable_indexscan = off"))
        else:
            await session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
            await session.execute(text(f"SET LOCAL hnsw.ef_search = {max(self.ef_search, k)}"))
        stmt, params = _params(
            f"SELECT chunk_id, embedding <=> CAST(:q AS vector) AS d FROM {vec_table(dimension)}"
            " WHERE user_id = :u AND model = :m"
            + _file_filter("file_id", file_ids)
            + " ORDER BY d LIMIT :k",
            file_ids,
        )
        params.update(q=_pg_vector(query), u=user_id, m=model, k=k)
        rows = (await session.execute(stmt, params)).all()
        if exact:
            await session.execute(text("SET LOCAL enable_indexscan = on"))
        hits = [ScoredId(int(r[0]), 1.0 - float(r[1])) for r in rows]
        hits.sort(key=lambda h: -h.score)  # relaxed_order may return slightly out of order
        return hits

    async def keyword_search(
        self,
        session: AsyncSession,
        *,
        terms: list[str],
        user_id: str,
        file_ids: list[str] | None,
        k: int,
    ) -> list[ScoredId]:
        words = clean_terms(terms)
        if not words:
            return []
        stmt, params = _params(
            "SELECT chunk_id, ts_rank_cd(tsv, q) AS s"
            " FROM chunk_fts, to_tsquery('english', :query) AS q"
            " WHERE tsv @@ q AND user_id = :u"
            + _file_filter("file_id", file_ids)
            + " ORDER BY s DESC LIMIT :k",
            file_ids,
        )
        params.update(query=" | ".join(words), u=user_id, k=k)
        rows = await session.execute(stmt, params)
        return [ScoredId(int(r[0]), float(r[1])) for r in rows]

    async def similarities(
        self, session: AsyncSession, *, dimension: int, query: Vectors, chunk_ids: list[int]
    ) -> dict[int, float]:
        if not chunk_ids:
            return {}
        stmt = text(
            f"SELECT chunk_id, embedding <=> CAST(:q AS vector) FROM {vec_table(dimension)}"
            " WHERE chunk_id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        rows = await session.execute(stmt, {"q": _pg_vector(query), "ids": chunk_ids})
        return {int(r[0]): 1.0 - float(r[1]) for r in rows}


def build_store(dialect: str, ef_search: int = 200) -> VectorStore:
    return SqliteVecStore() if dialect == "sqlite" else PgVectorStore(ef_search)
