"""The vector + keyword store on SQLite (sqlite-vec, FTS5) and PostgreSQL (pgvector, tsvector)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select, text

from llm_platform.db.engine import Database
from llm_platform.db.models import File, FileChunk
from llm_platform.rag.store import IndexEntry, build_store, vec_table

DIM = 8


def vec(i: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i % DIM] = 1.0
    v[(i + 1) % DIM] = 0.3
    return v / np.linalg.norm(v)


async def _seed(db: Database) -> dict[str, list[int]]:
    store = build_store(db.dialect)
    await store.ensure(db.engine, DIM)
    ids: dict[str, list[int]] = {}
    async with db.write_sessions() as s, s.begin():
        for user, fid in (("alice", "fa"), ("alice", "fb"), ("bob", "fc")):
            s.add(
                File(
                    id=fid,
                    user_id=user,
                    name=f"{fid}.txt",
                    media_type="text/plain",
                    kind="text",
                    size_bytes=1,
                    sha256=fid,
                    storage_key=fid,
                    status="ready",
                    progress=1.0,
                    chunk_count=4,
                    attempts=0,
                )
            )
            rows = [
                FileChunk(
                    file_id=fid,
                    user_id=user,
                    chunk_index=i,
                    page=i + 1,
                    char_start=0,
                    char_end=5,
                    text=f"{fid} chunk {i} about {'rivers' if i == 2 else 'hills'}",
                    token_count=5,
                    embedding_model="m",
                    embedding_dim=DIM,
                )
                for i in range(4)
            ]
            s.add_all(rows)
            await s.flush()
            ids[fid] = [r.id for r in rows]
            await store.add(
                s,
                "m",
                DIM,
                [IndexEntry(r.id, user, fid, r.text, vec(i)) for i, r in enumerate(rows)],
            )
    return ids


async def test_vector_and_keyword_search_filter_inside_the_query(database: Database) -> None:
    ids = await _seed(database)
    store = build_store(database.dialect)
    async with database.read_sessions() as s:
        hits = await store.vector_search(
            s, model="m", dimension=DIM, query=vec(2), user_id="alice", file_ids=None, k=3
        )
        assert len(hits) == 3
        assert hits[0].chunk_id in (ids["fa"][2], ids["fb"][2])
        assert abs(hits[0].score - 1.0) < 1e-4
        assert all(h.chunk_id not in ids["fc"] for h in hits)  # bob's never returned
        only_b = await store.vector_search(
            s, model="m", dimension=DIM, query=vec(2), user_id="alice", file_ids=["fb"], k=10
        )
        assert {h.chunk_id for h in only_b} == set(ids["fb"])
        other_model = await store.vector_search(
            s, model="other", dimension=DIM, query=vec(2), user_id="alice", file_ids=None, k=5
        )
        assert other_model == []
        kw = await store.keyword_search(s, terms=["rivers"], user_id="alice", file_ids=None, k=10)
        assert {h.chunk_id for h in kw} == {ids["fa"][2], ids["fb"][2]}
        kw_bob = await store.keyword_search(s, terms=["rivers"], user_id="bob", file_ids=None, k=10)
        assert [h.chunk_id for h in kw_bob] == [ids["fc"][2]]
        # Someone else's file id in the filter yields nothing, not their chunks.
        leak = await store.vector_search(
            s, model="m", dimension=DIM, query=vec(2), user_id="alice", file_ids=["fc"], k=10
        )
        assert leak == []
        sims = await store.similarities(
            s, dimension=DIM, query=vec(2), chunk_ids=[ids["fa"][2], ids["fa"][0]]
        )
        assert sims[ids["fa"][2]] > 0.99 > sims[ids["fa"][0]]


async def test_delete_file_leaves_no_vectors_or_keyword_rows(database: Database) -> None:
    ids = await _seed(database)
    store = build_store(database.dialect)
    async with database.write_sessions() as s, s.begin():
        await store.delete_file(s, "fa")
        await s.execute(text("DELETE FROM file_chunks WHERE file_id = 'fa'"))
    async with database.read_sessions() as s:
        remaining = (await s.execute(text(f"SELECT chunk_id FROM {vec_table(DIM)}"))).scalars()
        assert not set(remaining) & set(ids["fa"])
        if database.dialect == "sqlite":
            fts = (await s.execute(text("SELECT rowid FROM chunk_fts"))).scalars().all()
        else:
            fts = (await s.execute(text("SELECT chunk_id FROM chunk_fts"))).scalars().all()
        assert not set(fts) & set(ids["fa"]) and len(fts) == 8
        count = await s.scalar(select(func.count()).select_from(FileChunk))
        assert count == 8
