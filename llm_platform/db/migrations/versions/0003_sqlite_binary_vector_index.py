"""SQLite vector index: sign bits for a coarse scan, float vectors rescore its candidates

Revision ID: 0003_sqlite_binary_vector_index
Revises: 0002_files_rag
Create Date: 2026-11-26 02:00:00

SQLite only (PostgreSQL keeps pgvector HNSW). Each `chunk_vec_<d>` vec0 table of float
vectors becomes two tables, with every existing vector carried over:

- `chunk_emb_<d>` (chunk_id INTEGER PRIMARY KEY, model TEXT, embedding BLOB): the float32
  vectors;
- `chunk_vec_<d>`: vec0 of bit[d] (`vec_quantize_binary` of each vector), partitioned by
  user, model and shard (chunk_id % 32), file id as metadata, 128 vectors a storage chunk.

The DDL is written out here rather than imported, so this revision keeps doing what it did
when the store changes later. Converting needs sqlite-vec in the migrating connection, as
`llm-platform db upgrade` and the app's start-up have; a database without vector tables (a
new one) needs nothing.
"""

import re
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text
from sqlalchemy.engine import Connection

revision: str = "0003_sqlite_binary_vector_index"
down_revision: str | None = "0002_files_rag"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARDS = 32


def _vec_tables(bind: Connection, kind: str) -> list[tuple[str, int]]:
    """(name, dimension) of the `chunk_vec_<d>` vec0 tables whose vector column is `kind`."""
    rows = bind.execute(
        text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            " AND name LIKE 'chunk_vec_%' AND sql LIKE '%vec0%'"
        )
    ).all()
    found = []
    for name, sql in rows:
        match = re.search(rf"embedding\s+{kind}\[(\d+)\]", sql or "", re.IGNORECASE)
        if match:
            found.append((str(name), int(match.group(1))))
    return found


def _require_sqlite_vec(bind: Connection) -> None:
    try:
        bind.execute(text("SELECT vec_version()"))
    except Exception as exc:
        raise RuntimeError(
            "Converting the vector tables needs sqlite-vec loaded in the migrating connection:"
            " run `llm-platform db upgrade` (or start the app) instead of plain alembic"
        ) from exc


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    tables = _vec_tables(bind, "float")
    if not tables:
        return
    _require_sqlite_vec(bind)
    for name, dim in tables:
        emb = f"chunk_emb_{dim}"
        bind.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {emb} ("
                "chunk_id INTEGER PRIMARY KEY, model TEXT NOT NULL, embedding BLOB NOT NULL)"
            )
        )
        bind.execute(
            text(
                f"INSERT OR REPLACE INTO {emb}(chunk_id, model, embedding)"
                f" SELECT chunk_id, model, embedding FROM {name}"
            )
        )
        bind.execute(text("DROP TABLE IF EXISTS temp.vec_meta"))
        bind.execute(
            text(
                "CREATE TEMP TABLE vec_meta AS"
                f" SELECT chunk_id, user_id, model, file_id FROM {name}"
            )
        )
        bind.execute(text(f"DROP TABLE {name}"))
        bind.execute(
            text(
                f"CREATE VIRTUAL TABLE {name} USING vec0("
                "chunk_id integer primary key, user_id text partition key,"
                " model text partition key, shard integer partition key, file_id text,"
                f" embedding bit[{dim}], chunk_size=128)"
            )
        )
        bind.execute(
            text(
                f"INSERT INTO {name}(chunk_id, user_id, model, shard, file_id, embedding)"
                f" SELECT m.chunk_id, m.user_id, m.model, m.chunk_id % {SHARDS}, m.file_id,"
                " vec_quantize_binary(e.embedding)"
                f" FROM temp.vec_meta m JOIN {emb} e ON e.chunk_id = m.chunk_id"
            )
        )
        bind.execute(text("DROP TABLE temp.vec_meta"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    tables = _vec_tables(bind, "bit")
    if not tables:
        return
    _require_sqlite_vec(bind)
    for name, dim in tables:
        emb = f"chunk_emb_{dim}"
        bind.execute(text("DROP TABLE IF EXISTS temp.vec_meta"))
        bind.execute(
            text(
                "CREATE TEMP TABLE vec_meta AS"
                f" SELECT chunk_id, user_id, model, file_id FROM {name}"
            )
        )
        bind.execute(text(f"DROP TABLE {name}"))
        bind.execute(
            text(
                f"CREATE VIRTUAL TABLE {name} USING vec0("
                "chunk_id integer primary key, user_id text partition key,"
                " model text partition key, file_id text,"
                f" embedding float[{dim}])"
            )
        )
        bind.execute(
            text(
                f"INSERT INTO {name}(chunk_id, user_id, model, file_id, embedding)"
                " SELECT m.chunk_id, m.user_id, m.model, m.file_id, e.embedding"
                f" FROM temp.vec_meta m JOIN {emb} e ON e.chunk_id = m.chunk_id"
            )
        )
        bind.execute(text("DROP TABLE temp.vec_meta"))
        bind.execute(text(f"DROP TABLE {emb}"))
