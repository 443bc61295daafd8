"""Agent graph overhead per turn versus a direct model call, with the same scripted model.

Two measurements, each printed side by side (p50 / p99 per turn, milliseconds):

1. The graph alone: a plain chat turn (coordinator, then the writer streaming the scripted
   model's tokens through the custom stream) against iterating the same model's stream
   directly; without a checkpointer, and with the SQLite checkpointer (a session's turn).
2. Through the query API in-process (SQLite, the query log written): `agent_mode` "off"
   against "auto", with and without a session.

    python bench/agents_graph.py               # ~10 s
    python bench/agents_graph.py --turns 500

Target: graph overhead <= 10 ms p50 per turn, model time excluded. Only in-process; no
network.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

TURNS = 200
ANSWER = "Hello there, this is the scripted model's answer in a few words."


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _line(name: str, base: list[float], other: list[float]) -> str:
    b50, o50 = statistics.median(base), statistics.median(other)
    b99, o99 = _pct(base, 0.99), _pct(other, 0.99)
    return (
        f"{name:<34} direct p50={b50:6.2f} p99={b99:6.2f} | graph p50={o50:6.2f} "
        f"p99={o99:6.2f} | overhead p50={o50 - b50:+6.2f} ms"
    )


async def _timed(fn: Callable[[], Awaitable[object]], turns: int) -> list[float]:
    for _ in range(min(20, turns)):  # warm-up
        await fn()
    out = []
    for _ in range(turns):
        t = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


async def graph_only(turns: int) -> list[str]:
    from llm_platform.agents.base_agent import TurnDeps
    from llm_platform.agents.graph import build_graph
    from llm_platform.agents.ports import Sink, WriterInput, WriterOutput
    from llm_platform.agents.state import turn_input
    from llm_platform.db.engine import SqliteTuning
    from llm_platform.providers.base import ChatMessage, ChatRequest, DoneEvent, TextDelta
    from llm_platform.providers.scripted import ScriptedProvider, text_events
    from llm_platform.services.agents.runtime import _SQLITE_CHECKPOINT_TABLES

    provider = ScriptedProvider(script=[*text_events(ANSWER), DoneEvent()], token_delay=0)
    request = ChatRequest(model="echo", messages=[ChatMessage(role="user", content="hi")])

    async def direct() -> None:
        async for _ in provider.stream(request):
            pass

    async def write(inp: WriterInput, sink: Sink) -> WriterOutput:
        text = []
        async for event in provider.stream(request):
            if isinstance(event, TextDelta):
                text.append(event.text)
                sink(event)
        return WriterOutput(text="".join(text), status="ok")

    state = turn_input(query="hi", user_id="u", session_id=None, query_id="q")
    stateless = build_graph()

    async def turn() -> None:
        deps = TurnDeps(write=write)
        async for _ in stateless.astream(state, context=deps, stream_mode=["custom", "values"]):
            pass

    lines = [
        _line("graph, no checkpointer", await _timed(direct, turns), await _timed(turn, turns))
    ]

    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.db")
        conn = await aiosqlite.Connection(lambda: SqliteTuning().connect(path), 64)
        try:
            await conn.executescript(_SQLITE_CHECKPOINT_TABLES)
            saver = AsyncSqliteSaver(conn)
            saver.is_setup = True
            saved = build_graph(saver)
            config = {"configurable": {"thread_id": "s1"}}

            async def session_turn() -> None:
                deps = TurnDeps(write=write)
                async for _ in saved.astream(
                    state,
                    config,  # type: ignore[arg-type]
                    context=deps,
                    stream_mode=["custom", "values"],
                    durability="exit",
                ):
                    pass

            lines.append(
                _line(
                    "graph, SQLite checkpointer",
                    await _timed(direct, turns),
                    await _timed(session_turn, turns),
                )
            )
        finally:
            await conn.close()
    return lines


async def through_api(turns: int) -> list[str]:
    import httpx

    from llm_platform.core.config import Settings
    from llm_platform.main import create_app
    from llm_platform.providers.base import DoneEvent
    from llm_platform.providers.scripted import ScriptedProvider, text_events

    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            DATA_DIR=Path(tmp) / "data",
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/bench.db",
            ENABLE_SCRIPTED_PROVIDER=True,
            TRUST_CLIENT_USER_ID=True,
            RATE_LIMIT_PER_MINUTE=0,
            RATE_LIMIT_PER_MINUTE_IP=0,
            WARM_START=False,
            INTENT_LLM_ENABLED=False,  # routing by rules and examples only: no model call
            LOG_LEVEL="WARNING",
            _env_file=None,  # type: ignore[call-arg]
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            provider = app.state.platform.query.registry.get("scripted")
            assert isinstance(provider, ScriptedProvider)
            provider.script = [*text_events(ANSWER), DoneEvent()]
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                for session in (None, "bench-session"):

                    def call(
                        mode: str, session: str | None = session
                    ) -> Callable[[], Awaitable[object]]:
                        payload = {
                            "query": "hi",
                            "user_id": "bench",
                            "model_provider": "scripted",
                            "agent_mode": mode,
                            "use_rag": False,
                        }
                        if session:
                            payload["session_id"] = session

                        async def post() -> None:
                            r = await http.post("/api/v1/query/stream", json=payload)
                            assert r.status_code == 200 and '"done"' in r.text, r.text

                        return post

                    name = "API stream, " + ("session" if session else "no session")
                    off = await _timed(call("off"), turns)
                    auto = await _timed(call("auto"), turns)
                    lines.append(_line(name + " (off|auto)", off, auto))
    return lines


def run(turns: int = TURNS) -> list[str]:
    async def main() -> list[str]:
        return [*(await graph_only(turns)), *(await through_api(turns))]

    return asyncio.run(main())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=TURNS)
    args = parser.parse_args()
    for line in run(args.turns):
        print(line)
    sys.exit(0)
