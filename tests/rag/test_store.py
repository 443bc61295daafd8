"""The vector + keyword store on SQLite (sqlite-vec, FTS5) and PostgreSQL (pgvector, tsvector)."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select, text

from llm_platform.db.engine import Database
from llm_platform.db.models import File, FileChunk
from llm_platform.rag.store import IndexEntry, VectorStore, build_store, vec_table

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


async def test_approximate_path_filters_like_the_exact_one(database: Database) -> None:
    """SQLite's binary-quantized coarse scan and pgvector's HNSW with a file filter (forced
    here: the scopes are below the exact-scan sizes) keep every filter inside the SQL and
    score with exact cosine similarities."""
    from llm_platform.rag.store_pg import PgVectorStore
    from llm_platform.rag.store_sqlite import SqliteVecStore

    ids = await _seed(database)
    exact: VectorStore
    coarse: VectorStore
    if database.dialect == "sqlite":
        exact = SqliteVecStore()
        coarse = SqliteVecStore(exact_scan_max=0, exact_scan_max_files=0)
    else:
        exact = PgVectorStore()
        coarse = PgVectorStore(exact_scan_max_files=0)
    async with database.read_sessions() as s:
        for file_ids in (None, ["fb"], ["fc"], ["fa", "fb"], []):
            for user in ("alice", "bob"):
                args = dict(
                    model="m", dimension=DIM, query=vec(2), user_id=user, file_ids=file_ids, k=3
                )
                want = await exact.vector_search(s, **args)  # type: ignore[arg-type]
                got = await coarse.vector_search(s, **args)  # type: ignore[arg-type]
                assert [h.chunk_id for h in got] == [h.chunk_id for h in want]
                assert [round(h.score, 5) for h in got] == [round(h.score, 5) for h in want]
        hits = await coarse.vector_search(
            s, model="m", dimension=DIM, query=vec(2), user_id="alice", file_ids=None, k=3
        )
        assert hits[0].chunk_id in (ids["fa"][2], ids["fb"][2]) and hits[0].score > 0.9999
        assert (
            await coarse.vector_search(
                s, model="other", dimension=DIM, query=vec(2), user_id="alice", file_ids=None, k=3
            )
            == []
        )


async def test_sqlite_coarse_candidates_are_rescored_exactly(database: Database) -> None:
    """With fewer candidates than vectors, the coarse scan still returns the true nearest
    neighbours of clustered data, ranked and scored by exact cosine similarity."""
    if database.dialect != "sqlite":
        pytest.skip("SQLite's store only")
    from llm_platform.rag.store_sqlite import SqliteVecStore

    dim, n = 64, 3000
    rng = np.random.default_rng(5)
    centers = rng.standard_normal((30, dim)).astype(np.float32)
    vecs = centers[rng.integers(0, 30, n)] + 0.8 * rng.standard_normal((n, dim))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    store = SqliteVecStore(
        exact_scan_max=0, exact_scan_max_files=0, oversample=4, min_candidates=320
    )
    await store.ensure(database.engine, dim)
    async with database.write_sessions() as s, s.begin():
        s.add(
            File(
                id="big", user_id="carol", name="big.txt", media_type="text/plain",
                kind="text", size_bytes=1, sha256="big", storage_key="big",
                status="ready", progress=1.0, chunk_count=n, attempts=0,
            )
        )  # fmt: skip
        rows = [
            FileChunk(
                file_id="big", user_id="carol", chunk_index=i, page=1, char_start=0,
                char_end=1, text=f"chunk {i}", token_count=2, embedding_model="m",
                embedding_dim=dim,
            )
            for i in range(n)
        ]  # fmt: skip
        s.add_all(rows)
        await s.flush()
        await store.add(
            s,
            "m",
            dim,
            [IndexEntry(r.id, "carol", "big", r.text, vecs[i]) for i, r in enumerate(rows)],
        )
        row_ids = np.array([r.id for r in rows])
    recalls = []
    async with database.read_sessions() as s:
        for qi in range(10):
            query = vecs[qi * 97]
            hits = await store.vector_search(
                s, model="m", dimension=dim, query=query, user_id="carol", file_ids=None, k=10
            )
            assert len(hits) == 10
            scores = [h.score for h in hits]
            assert scores == sorted(scores, reverse=True)
            by_id = dict(zip(row_ids.tolist(), (vecs @ query).tolist(), strict=True))
            assert all(abs(h.score - by_id[h.chunk_id]) < 1e-4 for h in hits)
            true = set(row_ids[np.argsort(-(vecs @ query))[:10]].tolist())
            recalls.append(len(true & {h.chunk_id for h in hits}) / 10)
            exact = await store.vector_search(
                s, model="m", dimension=dim, query=query, user_id="carol", file_ids=None,
                k=10, exact=True,
            )  # fmt: skip
            assert {h.chunk_id for h in exact} == true
    assert np.mean(recalls) >= 0.9, recalls
