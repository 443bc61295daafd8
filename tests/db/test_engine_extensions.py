from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from llm_platform.db.engine import Database
from llm_platform.db.migrate import schema_drift


async def test_schema_matches_models_on_both_databases(database: Database) -> None:
    assert await schema_drift(database.engine) == []


async def test_sqlite_connections_load_sqlite_vec_and_map_errors(database: Database) -> None:
    async with database.engine.begin() as conn:
        if database.dialect == "sqlite":
            version = (await conn.execute(text("SELECT vec_version()"))).scalar()
            assert str(version).startswith("v0.")
        else:
            ext = await conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname='vector'")
            )
            assert ext.scalar() is not None
        await conn.execute(text("CREATE TABLE t_unique (x INTEGER PRIMARY KEY)"))
        await conn.execute(text("INSERT INTO t_unique VALUES (1)"))
    # Driver errors still arrive as SQLAlchemy's exception types (services rely on it).
    with pytest.raises(IntegrityError):
        async with database.engine.begin() as conn:
            await conn.execute(text("INSERT INTO t_unique VALUES (1)"))
