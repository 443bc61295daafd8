"""The agent graph's process-wide parts, built in the app lifespan (composition.py): the
compiled graph (with LangGraph's checkpointer on the platform's database: one saver per
process, thread id = session id) and the agents' ports.

SQLite: `AsyncSqliteSaver` on its own connection to the platform's file, opened with the
engine's SQLite library and pragmas (WAL, busy timeout; two SQLite copies in one process
must never share a file). PostgreSQL: `AsyncPostgresSaver` on a small psycopg pool.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from llm_platform.agents.base_agent import AgentTimeouts
from llm_platform.agents.graph import TurnGraph, build_graph
from llm_platform.agents.ports import Interviewer, MemoryStore, Ocr, ProductFinder, Router
from llm_platform.agents.vision_agent import extractor_ocr
from llm_platform.core.config import Settings
from llm_platform.core.logging import get_logger
from llm_platform.db.engine import Database
from llm_platform.rag.extract import limits_from_settings
from llm_platform.rag.extract.ocr import ocr_available
from llm_platform.services.agents.adapters import HistoryWindow

log = get_logger("llm_platform.agents")

MEMORY_INTENTS = frozenset({"memory_remember", "memory_recall", "memory_forget"})
# A message that may state something about its author (the model decides what is durable).
SELF_STATEMENT = re.compile(
    r"\b(?:i|i'm|im|i've|i'd|i'll|my|me|mine|myself|we|we're|our)\b", re.IGNORECASE
)
LEARNING_DRAIN_SECONDS = 5.0


@dataclass(frozen=True)
class AgentPorts:
    """The agents' access to the rest of the platform (None: that agent is unavailable)."""

    router: Router | None = None
    memory: MemoryStore | None = None
    products: ProductFinder | None = None
    interviewer: Interviewer | None = None
    ocr: Ocr | None = None
    # The writer's window on a long conversation (rolling summary + newest messages).
    history: HistoryWindow | None = None


@dataclass
class AgentRuntime:
    graph: TurnGraph  # checkpointed (turns of a session)
    stateless: TurnGraph  # turns without a session
    timeouts: AgentTimeouts
    ports: AgentPorts = field(default_factory=AgentPorts)
    saver: BaseCheckpointSaver[Any] | None = None
    # Post-turn memory jobs still running (awaited, then cancelled, at shutdown).
    learning: set[asyncio.Task[None]] = field(default_factory=set)

    def learn_later(
        self,
        *,
        user_id: str,
        text: str,
        session_id: str | None,
        query_id: str,
        intent: str | None,
    ) -> None:
        """After a turn whose answer is logged: the memory agent reads the user's message
        for durable facts about them, in the background (one job per query id, idempotent:
        a turn already read adds nothing). Not for the memory intents (their own agent ran)
        nor for messages that say nothing about the user."""
        memory = self.ports.memory
        if memory is None or intent in MEMORY_INTENTS or not SELF_STATEMENT.search(text):
            return

        async def job() -> None:
            try:
                await memory.learn(
                    user_id=user_id,
                    user_text=text,
                    session_id=session_id,
                    query_id=query_id,
                    when=datetime.now(UTC),
                )
            except Exception as exc:  # the answer is given; the next turn may teach it again
                log.warning("memory_learning_failed", query_id=query_id, error=str(exc))

        self.later(job(), f"memory-learn-{query_id}")

    def summarize_later(self, session_id: str) -> None:
        """After a turn of a conversation past the history budget: its rolling summary
        brought up to date in the background (the next turn reads it)."""
        history = self.ports.history
        if history is None:
            return

        async def job() -> None:
            try:
                await history.refresh(session_id)
            except Exception as exc:  # the next turn reads the newest messages meanwhile
                log.warning("session_summary_failed", session_id=session_id, error=str(exc))

        self.later(job(), f"session-summary-{session_id}")

    def later(self, job: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(job, name=name)
        self.learning.add(task)
        task.add_done_callback(self.learning.discard)

    async def drain(self) -> None:
        """At shutdown: let running memory jobs finish (briefly), then cancel the rest."""
        tasks = list(self.learning)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=LEARNING_DRAIN_SECONDS)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def graph_for(self, session_id: str | None) -> tuple[TurnGraph, RunnableConfig | None]:
        """The graph to run a turn on and its config (thread id = session id)."""
        if session_id is None or self.saver is None:
            return self.stateless, None
        return self.graph, {"configurable": {"thread_id": session_id}}

    async def forget(self, session_ids: list[str]) -> None:
        """Delete the checkpointed state of these conversations (withdrawal, deletion)."""
        if self.saver is None:
            return
        for session_id in session_ids:
            await self.saver.adelete_thread(session_id)


def timeouts_from_settings(settings: Settings) -> AgentTimeouts:
    return AgentTimeouts(
        default=settings.AGENT_TIMEOUT_SECONDS, per_agent=dict(settings.AGENT_TIMEOUTS)
    )


def default_ports(settings: Settings) -> AgentPorts:
    """The ports this server has: OCR (when Tesseract is installed). The intent router
    (`agents.intent.IntentRouter`), the memory store (`agents.memory_agent`), the product
    search and the shopping interview (`agents.product_agent`, `agents.shopping_agent`)
    plug in here as adapters to the protocols of `agents.ports`; without a router the
    coordinator routes images to vision, files to retrieval and the rest to the writer."""
    limits = limits_from_settings(settings)
    return AgentPorts(ocr=extractor_ocr(limits) if ocr_available() else None)


@asynccontextmanager
async def saver_for(settings: Settings, db: Database) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """LangGraph's checkpointer on the platform's database, its tables set up."""
    async with AsyncExitStack() as stack:
        saver: BaseCheckpointSaver[Any]
        if db.sqlite is not None:
            import aiosqlite
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

            tuning, path = db.sqlite, str(db.engine.url.database)
            conn = await aiosqlite.Connection(lambda: tuning.connect(path), 64)
            stack.push_async_callback(conn.close)
            sqlite_saver = AsyncSqliteSaver(conn)
            await conn.executescript(_SQLITE_CHECKPOINT_TABLES)
            await conn.commit()
            # Its own setup would probe for a column by catching the stdlib's sqlite3
            # error, which the engine's SQLite library (sqlean) does not raise.
            sqlite_saver.is_setup = True
            saver = sqlite_saver
        else:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
            from psycopg.rows import dict_row
            from psycopg_pool import AsyncConnectionPool

            pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                _libpq_url(db),
                min_size=1,
                max_size=4,
                open=False,
                kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            )
            await pool.open()
            stack.push_async_callback(pool.close)
            pg_saver = AsyncPostgresSaver(pool)
            # Instances starting together would race on its CREATE TABLEs: one at a time.
            # Polled, not waited for: a statement waiting on the lock would hold up the
            # holder's CREATE INDEX CONCURRENTLY (which waits for every open transaction).
            async with pool.connection() as lock:
                while True:
                    cur = await lock.execute(
                        "SELECT pg_try_advisory_lock(%s) AS ok", (_SETUP_LOCK,)
                    )
                    row = await cur.fetchone()
                    if row is not None and row["ok"]:
                        break
                    await asyncio.sleep(0.2)
                try:
                    await pg_saver.setup()
                finally:
                    await lock.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))
            saver = pg_saver
        yield saver


# The advisory lock key serialising the PostgreSQL checkpointer's set-up across instances.
_SETUP_LOCK = 0x6C6C6D70_6367  # "llmp" "cg"


# `AsyncSqliteSaver.setup`'s tables (langgraph-checkpoint-sqlite 3.x), `task_path` included.
_SQLITE_CHECKPOINT_TABLES = """
CREATE TABLE IF NOT EXISTS checkpoints (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    parent_checkpoint_id TEXT,
    type TEXT,
    checkpoint BLOB,
    metadata BLOB,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
);
CREATE TABLE IF NOT EXISTS writes (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    task_path TEXT NOT NULL DEFAULT '',
    idx INTEGER NOT NULL,
    channel TEXT NOT NULL,
    type TEXT,
    value BLOB,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
);
"""


def _libpq_url(db: Database) -> str:
    """The engine's URL for psycopg (no SQLAlchemy driver name, the password kept)."""
    url = db.engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@asynccontextmanager
async def agent_runtime(
    settings: Settings, db: Database, ports: AgentPorts | None = None
) -> AsyncIterator[AgentRuntime]:
    """Built in the lifespan: the graphs, the checkpointer when AGENT_CHECKPOINTS is on."""
    timeouts = timeouts_from_settings(settings)
    ports = ports if ports is not None else default_ports(settings)
    stateless = build_graph()
    if not settings.AGENT_CHECKPOINTS:
        runtime = AgentRuntime(graph=stateless, stateless=stateless, timeouts=timeouts, ports=ports)
        try:
            yield runtime
        finally:
            await runtime.drain()
        return
    async with saver_for(settings, db) as saver:
        runtime = AgentRuntime(
            graph=build_graph(saver),
            stateless=stateless,
            timeouts=timeouts,
            ports=ports,
            saver=saver,
        )
        try:
            yield runtime
        finally:
            await runtime.drain()
