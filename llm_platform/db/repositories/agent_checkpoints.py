"""The agent graph's checkpointed conversations (LangGraph's saver tables, thread id =
session id): deleted with the conversation, in the same transaction (withdrawal, erasure)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

# The saver's tables per database (langgraph-checkpoint-sqlite 3 / -postgres 3).
CHECKPOINT_TABLES = {
    "sqlite": ("writes", "checkpoints"),
    "postgresql": ("checkpoint_writes", "checkpoint_blobs", "checkpoints"),
}


class CheckpointRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _exists(self, dialect: str, table: str) -> bool:
        if dialect == "sqlite":
            query = text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :t")
        else:
            query = text("SELECT to_regclass(:t) IS NOT NULL")
        return bool((await self.session.execute(query, {"t": table})).scalar())

    async def delete_threads(self, thread_ids: Sequence[str]) -> None:
        """Every checkpoint of these conversations (no-op where the saver never ran)."""
        if not thread_ids:
            return
        dialect = self.session.get_bind().dialect.name
        for table in CHECKPOINT_TABLES.get(dialect, ()):
            if not await self._exists(dialect, table):
                continue
            stmt = text(f"DELETE FROM {table} WHERE thread_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            )
            await self.session.execute(stmt, {"ids": list(thread_ids)})
