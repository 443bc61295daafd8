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
