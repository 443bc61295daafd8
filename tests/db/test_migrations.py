"""The "autogenerate-clean" check: migrations and models agree, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine

from llm_platform.db.migrate import current_revision, head_revision, schema_drift, upgrade


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        await upgrade(engine)  # already at head: a no-op that must not fail
        assert await current_revision(engine) == head_revision()
        drift = await schema_drift(engine)
        assert drift == [], f"models and migrations disagree; add a migration: {drift}"
    finally:
        await engine.dispose()


async def test_upgrade_from_empty_sqlite(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert await current_revision(engine) is None
        # The check does see differences: every table is missing before the upgrade.
        assert len(await schema_drift(engine)) >= 6
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        assert await schema_drift(engine) == []
    finally:
        await engine.dispose()


def test_one_head() -> None:
    from alembic.script import ScriptDirectory

    from llm_platform.db.migrate import alembic_config

    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


async def test_sqlite_float_vectors_move_to_the_binary_index_and_back(tmp_path: Path) -> None:
    """0003 turns each float vec0 table into exact float rows + a sign-bit vec0 index,
    keeping every vector and its user, model and file; downgrading restores the old table."""
    import numpy as np
    from alembic import command
    from sqlalchemy import insert, text
    from sqlalchemy.engine import Connection

    from llm_platform.core.config import Settings
    from llm_platform.db.engine import create_database
    from llm_platform.db.migrate import alembic_config
    from llm_platform.db.models import File, FileChunk
    from llm_platform.rag.store_sqlite import SqliteVecStore

    db = create_database(
        Settings(
            _env_file=None,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'old.db'}",
            DATA_DIR=tmp_path,
        )
    )
    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((40, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    try:
        await upgrade(db.engine, "0002_files_rag")
        async with db.write_sessions() as s, s.begin():
            for user, fid in (("ann", "fa"), ("ben", "fb")):
                s.add(
                    File(
                        id=fid, user_id=user, name=f"{fid}.txt", media_type="text/plain",
                        kind="text", size_bytes=1, sha256=fid, storage_key=fid,
                        status="ready", progress=1.0, chunk_count=20, attempts=0,
                    )
                )  # fmt: skip
                await s.flush()
                # Core insert of the columns 0002 has (the model has later ones too).
                await s.execute(
                    insert(FileChunk.__table__),
                    [
                        dict(
                            id=i + 1, file_id=fid, user_id=user, chunk_index=i, page=1,
                            char_start=0, char_end=1, text="x", token_count=1,
                            embedding_model="m", embedding_dim=8,
                        )
                        for i in range(len(vecs))
                        if (i % 2 == 0) == (fid == "fa")
                    ],
                )  # fmt: skip
            await s.execute(
                text(
                    "CREATE VIRTUAL TABLE chunk_vec_8 USING vec0(chunk_id integer primary key,"
                    " user_id text partition key, model text partition key, file_id text,"
                    " embedding float[8])"
                )
            )
            await s.execute(
                text(
                    "INSERT INTO chunk_vec_8(chunk_id, user_id, model, file_id, embedding)"
                    " VALUES (:id, :u, 'm', :f, :v)"
                ),
                [
                    {
                        "id": i + 1,
                        "u": "ann" if i % 2 == 0 else "ben",
                        "f": "fa" if i % 2 == 0 else "fb",
                        "v": v.tobytes(),
                    }
                    for i, v in enumerate(vecs)
                ],
            )

        await upgrade(db.engine)
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT chunk_id, embedding FROM chunk_emb_8"))).all()
            assert {r[0]: bytes(r[1]) for r in rows} == {
                i + 1: v.tobytes() for i, v in enumerate(vecs)
            }
            ddl = await conn.scalar(text("SELECT sql FROM sqlite_master WHERE name='chunk_vec_8'"))
            assert "bit[8]" in ddl
            meta = (
                await conn.execute(
                    text("SELECT chunk_id, user_id, model, file_id FROM chunk_vec_8")
                )
            ).all()
            assert sorted(meta) == [
                (i + 1, "ann" if i % 2 == 0 else "ben", "m", "fa" if i % 2 == 0 else "fb")
                for i in range(len(vecs))
            ]
        for store in (SqliteVecStore(), SqliteVecStore(exact_scan_max=0, exact_scan_max_files=0)):
            await store.ensure(db.engine, 8)  # accepts the converted tables as they are
            async with db.read_sessions() as s:
                hits = await store.vector_search(
                    s, model="m", dimension=8, query=vecs[4], user_id="ann", file_ids=None, k=3
                )
            assert hits[0].chunk_id == 5 and abs(hits[0].score - 1.0) < 1e-5
            assert all(h.chunk_id % 2 == 1 for h in hits)  # ann's chunks only

        def _downgrade(conn: Connection) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0002_files_rag")

        async with db.engine.begin() as conn:
            await conn.run_sync(_downgrade)
        async with db.engine.connect() as conn:
            ddl = await conn.scalar(text("SELECT sql FROM sqlite_master WHERE name='chunk_vec_8'"))
            assert "float[8]" in ddl
            back = (await conn.execute(text("SELECT chunk_id, embedding FROM chunk_vec_8"))).all()
            assert {r[0]: bytes(r[1]) for r in back} == {
                i + 1: v.tobytes() for i, v in enumerate(vecs)
            }
            gone = await conn.scalar(
                text("SELECT count(*) FROM sqlite_master WHERE name = 'chunk_emb_8'")
            )
            assert gone == 0
    finally:
        await db.dispose()
