"""pgvector tables with an HNSW index and a tsvector table with GIN (PostgreSQL)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from llm_platform.rag.embeddings import Vectors
from llm_platform.rag.store import (
    IndexEntry,
    ScoredId,
    VectorStoreUnavailable,
    clean_terms,
    file_filter,
    params_for,
    scope_size,
    vec_table,
)


def _pg_vector(vector: Vectors) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in np.asarray(vector, dtype=np.float32)) + "]"


class PgVectorStore:
    name = "pgvector"

    def __init__(self, ef_search: int = 200, exact_scan_max_files: int = 8000) -> None:
        self.ef_search = ef_search
        # HNSW walks the whole graph's neighbourhood and drops what the filter rejects: for
        # a few named files (4% of 100k chunks in bench/rag.py) that took ~70 ms. Their
        # rows straight from the (user_id, file_id) index, sorted exactly, take a few ms.
        self.exact_scan_max_files = exact_scan_max_files

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
        if not exact and file_ids is not None:
            exact = await scope_size(session, user_id, file_ids) <= self.exact_scan_max_files
        if exact:
            await session.execute(text("SET LOCAL enable_indexscan = off"))
        else:
            await session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
            await session.execute(text(f"SET LOCAL hnsw.ef_search = {max(self.ef_search, k)}"))
        stmt, params = params_for(
            f"SELECT chunk_id, embedding <=> CAST(:q AS vector) AS d FROM {vec_table(dimension)}"
            " WHERE user_id = :u AND model = :m"
            + file_filter("file_id", file_ids)
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
        # One phrase query per term, parsed like the documents were (to_tsvector).
        query = " || ".join(f"phraseto_tsquery('english', :t{i})" for i in range(len(words)))
        stmt, params = params_for(
            "SELECT chunk_id, ts_rank_cd(tsv, terms.q) AS s"
            f" FROM chunk_fts, (SELECT {query} AS q) AS terms"
            " WHERE tsv @@ terms.q AND user_id = :u"
            + file_filter("file_id", file_ids)
            + " ORDER BY s DESC LIMIT :k",
            file_ids,
        )
        params.update({f"t{i}": w for i, w in enumerate(words)})
        params.update(u=user_id, k=k)
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
