"""sqlite-vec and FTS5 on SQLite: a coarse scan over binary-quantized vectors, rescored exactly.

Per embedding dimension d (both created on first use, converted from the older float-only
layout by migration 0003):

- `chunk_emb_<d>`: plain table, chunk id -> model, float32 vector. Exact distances:
  rescoring, exact scans of small scopes, `similarities`.
- `chunk_vec_<d>`: sqlite-vec `vec0` table of the vectors' sign bits (d/8 bytes each),
  partitioned by user, model and shard (chunk id mod SHARDS), file id as metadata.

Why this shape (bench/rag.py, 100k chunks of one user): vec0 scans every vector of a
partition. On float vectors that costs about 0.5 us each (~50 ms at 100k); on bits a tenth
of it. But vec0 selects its k nearest at a cost proportional to n*k: one KNN asking for 800
bit candidates is slower than the float scan. Split into SHARDS partitions, each asked for
800/SHARDS, the same 800 candidates cost about what k=25 does. Those candidates are then
rescored on float vectors in the same statement. On real MiniLM vectors 800 sign-bit
candidates hold the exact top 10 (recall 1.000) and 99.6% of the exact top 50 over 11k
passages; the bench reports recall against exact search at 10k and 100k.

Small scopes are scanned exactly instead, through file_chunks' (user, file) index, at about
3 us a chunk and with no approximation: a user's whole library up to `exact_scan_max` chunks
(by the files' chunk counts), or the files a question names up to `exact_scan_max_files`.
The coarse scan cannot narrow itself to a few files: it still walks all of the user's
vectors and checks each one's file id (which vec0 keeps in a side table), so a file-filtered
coarse search costs more than an unfiltered one."""

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

SHARDS = 32
VEC_CHUNK_SIZE = 128  # vectors per vec0 storage chunk (per partition: small users stay small)


def emb_table(dimension: int) -> str:
    return f"chunk_emb_{int(dimension)}"


def vec_table_sql(dimension: int) -> str:
    return (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {vec_table(dimension)} USING vec0("
        "chunk_id integer primary key, user_id text partition key,"
        " model text partition key, shard integer partition key, file_id text,"
        f" embedding bit[{int(dimension)}], chunk_size={VEC_CHUNK_SIZE})"
    )


def emb_table_sql(dimension: int) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {emb_table(dimension)} ("
        "chunk_id INTEGER PRIMARY KEY, model TEXT NOT NULL, embedding BLOB NOT NULL)"
    )


def _blob(vector: Vectors) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


class SqliteVecStore:
    name = "sqlite-vec"

    def __init__(
        self,
        exact_scan_max: int = 2000,
        exact_scan_max_files: int = 8000,
        oversample: int = 16,
        min_candidates: int = 800,
    ) -> None:
        self.exact_scan_max = exact_scan_max
        self.exact_scan_max_files = exact_scan_max_files
        self.oversample = oversample
        self.min_candidates = min_candidates

    async def ensure(self, engine: AsyncEngine, dimension: int) -> None:
        if dimension % 8:
            raise VectorStoreUnavailable(
                f"sqlite-vec's binary index needs a dimension divisible by 8, not {dimension}"
            )
        async with engine.begin() as conn:
            try:
                await conn.execute(text("SELECT vec_version()"))
            except Exception as exc:
                raise VectorStoreUnavailable(
                    "sqlite-vec is not loadable (install sqlite-vec and sqlean-py)"
                ) from exc
            existing = await conn.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = :n"),
                {"n": vec_table(dimension)},
            )
            if existing and "bit[" not in existing:
                raise VectorStoreUnavailable(
                    f"{vec_table(dimension)} has the pre-0003 layout: run `llm-platform db upgrade`"
                )
            await conn.execute(text(vec_table_sql(dimension)))
            await conn.execute(text(emb_table_sql(dimension)))

    async def add(
        self, session: AsyncSession, model: str, dimension: int, entries: list[IndexEntry]
    ) -> None:
        if not entries:
            return
        blobs = [_blob(e.vector) for e in entries]
        await session.execute(
            text(
                f"INSERT INTO {emb_table(dimension)}(chunk_id, model, embedding)"
                " VALUES (:id, :m, :v)"
            ),
            [{"id": e.chunk_id, "m": model, "v": b} for e, b in zip(entries, blobs, strict=True)],
        )
        await session.execute(
            text(
                f"INSERT INTO {vec_table(dimension)}"
                "(chunk_id, user_id, model, shard, file_id, embedding)"
                " VALUES (:id, :u, :m, :shard, :f, vec_quantize_binary(:v))"
            ),
            [
                {
                    "id": e.chunk_id,
                    "u": e.user_id,
                    "m": model,
                    "shard": e.chunk_id % SHARDS,
                    "f": e.file_id,
                    "v": b,
                }
                for e, b in zip(entries, blobs, strict=True)
            ],
        )
        await session.execute(
            text("INSERT INTO chunk_fts(rowid, body) VALUES (:id, :body)"),
            [{"id": e.chunk_id, "body": e.search_text} for e in entries],
        )

    async def _dimensions(self, session: AsyncSession) -> list[int]:
        rows = await session.execute(
            text("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'chunk_emb_%'")
        )
        return [int(name.rsplit("_", 1)[1]) for (name,) in rows]

    async def delete_file(self, session: AsyncSession, file_id: str) -> None:
        rows = await session.execute(
            text("SELECT id FROM file_chunks WHERE file_id = :f"), {"f": file_id}
        )
        ids = [{"id": int(r[0])} for r in rows]
        if not ids:
            return
        for dim in await self._dimensions(session):
            # Point deletes: vec0 turns `IN (...)` into a scan of every vector.
            await session.execute(text(f"DELETE FROM {vec_table(dim)} WHERE chunk_id = :id"), ids)
            await session.execute(text(f"DELETE FROM {emb_table(dim)} WHERE chunk_id = :id"), ids)
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
        emb = emb_table(dimension)
        limit = self.exact_scan_max if file_ids is None else self.exact_scan_max_files
        if exact or await scope_size(session, user_id, file_ids) <= limit:
            # file_chunks' (user_id, file_id) index covers its side: no chunk text is read.
            stmt, params = params_for(
                f"SELECT c.id, vec_distance_l2(e.embedding, :q) AS d FROM file_chunks c"
                f" JOIN {emb} e ON e.chunk_id = c.id"
                " WHERE c.user_id = :u AND e.model = :m"
                + file_filter("c.file_id", file_ids)
                + " ORDER BY d LIMIT :k",
                file_ids,
            )
        else:
            shard_k = -(-max(self.oversample * k, self.min_candidates) // SHARDS)
            coarse = " UNION ALL ".join(
                f"SELECT chunk_id FROM {vec_table(dimension)}"
                " WHERE embedding MATCH vec_quantize_binary(:q) AND k = :shard_k"
                f" AND user_id = :u AND model = :m AND shard = {shard}"
                + file_filter("file_id", file_ids)
                for shard in range(SHARDS)
            )
            # `IN`, not a join: SQLite sorts the candidate ids first, so the float rows are
            # read in table order (about half the time of random lookups).
            stmt, params = params_for(
                f"SELECT chunk_id, vec_distance_l2(embedding, :q) AS d FROM {emb}"
                f" WHERE chunk_id IN ({coarse}) ORDER BY d LIMIT :k",
                file_ids,
            )
            params["shard_k"] = shard_k
        params.update(q=_blob(query), u=user_id, m=model, k=k)
        rows = await session.execute(stmt, params)
        # Unit vectors: cosine similarity = 1 - d^2 / 2.
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
        stmt, params = params_for(
            "SELECT chunk_fts.rowid, bm25(chunk_fts) AS s FROM chunk_fts"
            " JOIN file_chunks c ON c.id = chunk_fts.rowid"
            " WHERE chunk_fts MATCH :match AND c.user_id = :u"
            + file_filter("c.file_id", file_ids)
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
        stmt = text(
            f"SELECT chunk_id, vec_distance_cosine(embedding, :q) FROM {emb_table(dimension)}"
            " WHERE chunk_id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        rows = await session.execute(stmt, {"q": _blob(query), "ids": [int(c) for c in chunk_ids]})
        return {int(r[0]): 1.0 - float(r[1]) for r in rows}
