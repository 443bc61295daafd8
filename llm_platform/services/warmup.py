"""Warm start: load in-process models at start-up, before serving or in the background.

The embedded llama.cpp model (and the local embedding model when files/RAG are on) take
seconds to load; done lazily, the first chat after start paid for it. With WARM_START the
lifespan starts their loads in a background task, one after the other (the chat model
first, with one token of a chat that carries its system prompt, which llama.cpp then keeps
evaluated); `/api/v1/status` reports each one (`queued`, `loading`, `ready` with the seconds
it took, or `failed` with the reason).

With WARM_START_WAIT (the default) the lifespan then waits for them: uvicorn opens its port
only after the app's start-up, so the first request, sent the instant the port opens, finds
the models loaded. Without it the port opens at once and `/api/v1/ready` answers 503 until
the loads are done (a proxy's readiness probe); a request that arrives during a load waits
for the rest of it (the provider queues it behind the load) instead of starting a second one.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable

from llm_platform.agents.intent import IntentRouter
from llm_platform.core.config import EmbeddingProvider, Settings
from llm_platform.core.logging import get_logger
from llm_platform.providers.registry import ProviderRegistry
from llm_platform.rag.lifecycle import RagServices
from llm_platform.schemas.health import ModelLoad

log = get_logger("llm_platform.warmup")


class Warmer:
    """Loads one model after the other (the chat model first): on a small machine two
    loads at once only slow each other and the first requests down."""

    def __init__(self) -> None:
        self.loads: dict[str, ModelLoad] = {}
        self._queue: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, name: str, load: Callable[[], Awaitable[None]]) -> None:
        self.loads[name] = ModelLoad(state="queued")
        self._queue.append((name, load))

    def start(self) -> None:
        """Run the loads in the background, in the order they were added."""
        if self._queue and self._task is None:
            self._task = asyncio.create_task(self._run_all(), name="warm-up")

    async def _run_all(self) -> None:
        while self._queue:
            name, load = self._queue.pop(0)
            await self._run(name, load)

    async def _run(self, name: str, load: Callable[[], Awaitable[None]]) -> None:
        self.loads[name] = ModelLoad(state="loading")
        started = time.perf_counter()
        try:
            await load()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported in /status; the request path reports it too
            self.loads[name] = ModelLoad(state="failed", error=str(exc) or type(exc).__name__)
            log.warning("model_load_failed", model=name, error=str(exc))
            return
        seconds = round(time.perf_counter() - started, 3)
        self.loads[name] = ModelLoad(state="ready", seconds=seconds)
        log.info("model_loaded", model=name, seconds=seconds)

    @property
    def ready(self) -> bool:
        return all(load.state == "ready" for load in self.loads.values())

    async def wait(self) -> None:
        """Until every load has finished (ready or failed)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def start_warm_up(
    settings: Settings,
    providers: ProviderRegistry,
    rag: RagServices | None,
    router: IntentRouter | None = None,
) -> Warmer:
    """Start loading every in-process model (none when WARM_START is false), and the intent
    router's example vectors (the first routed message would otherwise embed them all)."""
    warmer = Warmer()
    if not settings.WARM_START:
        return warmer
    for provider in providers.in_process():
        model = provider.default_model
        system = providers.system_prompt_for(provider.name, model)
        warmer.add(f"{provider.name}:{model}", functools.partial(provider.warm_up, system))
    if rag is not None and settings.EMBEDDING_PROVIDER is EmbeddingProvider.LOCAL:
        embedder = rag.runtime.embedder
        warmer.add(f"embeddings:{embedder.model_name}", embedder.warm_up)
        if router is not None:
            warmer.add("intent-examples", router.warm_up)
    warmer.start()
    return warmer
