"""The platform as bench/gateway.py serves it: the real app, its provider chosen by settings.

The upstream is an OpenAI-compatible endpoint (`OPENAI_BASE_URL`, `OPENAI_API_KEY`), reached
through the app's own `openai` adapter (official SDK for the request, the stream read as raw
server-sent events). Which adapter ran is written to `BENCH_INFO_FILE`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from llm_platform.core.config import load_settings
from llm_platform.main import create_app


def create_bench_app() -> FastAPI:
    settings = load_settings()
    app = create_app(settings)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        async with inner(application) as state:
            registry = application.state.platform.query.registry
            provider = registry.get("openai")
            info = os.environ.get("BENCH_INFO_FILE")
            if info:
                used = f"the app's own 'openai' adapter ({type(provider).__name__})"
                Path(info).write_text(used)  # noqa: ASYNC240 - once, at start-up
            yield state

    app.router.lifespan_context = lifespan
    return app
