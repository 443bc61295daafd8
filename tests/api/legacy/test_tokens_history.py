"""`GET /tokens/data` and `GET /api/v1/query/history/{user_id}` computed from our query log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from llm_platform.db.models import Query
from tests.conftest import AppClient, staff_headers
from tests.support.legacy_client import start_body

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


async def log_calls(client: AppClient, rows: list[dict[str, Any]]) -> None:
    async with client.app.state.platform.db.write_sessions() as db:
        for i, values in enumerate(rows):
            db.add(Query(created_at=T0 + timedelta(minutes=i), **values))
        await db.commit()


def call(user: str, provider: str, model: str, inp: int | None, out: int | None, **kw: Any) -> dict:
    return {
        "user_id": user,
        "provider": provider,
        "model": model,
        "input_tokens": inp,
        "output_tokens": out,
        **kw,
    }


async def test_token_dashboard_shape_and_sums(client: AppClient) -> None:
    await log_calls(
        client,
        [
            call("u1", "openai", "gpt-4o-mini", 10, 50, latency_ms=100.0),
            call("u1", "openai", "gpt-4o-mini", 20, 30, latency_ms=300.0),
            call("u2", "anthropic", "claude-haiku-4-5", 5, 7, latency_ms=None),
            call("u2", "openai", "gpt-4.1", 1, 2, latency_ms=50.0, reasoning_tokens=9),
            call("u3", "local", "smollm2", None, None),  # no token counts: not on the dashboard
        ],
    )
    admin = await staff_headers(client)
    r = await client.get("/tokens/data", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"queries", "filters", "aggregated"}
    assert len(body["queries"]) == 4
    first = body["queries"][0]
    assert set(first) == {"model_provider", "model_used", "tokens", "timestamp", "latency_ms"}
    assert first["model_provider"] == "openai" and first["model_used"] == "gpt-4o-mini"
    assert first["tokens"] == {"prompt": 10, "completion": 50, "total": 60}
    assert datetime.fromisoformat(first["timestamp"]) == T0
    assert body["filters"] == {
        "providers": ["anthropic", "openai"],
        "models": ["claude-haiku-4-5", "gpt-4.1", "gpt-4o-mini"],
    }
    agg = body["aggregated"]
    assert agg["total_prompt_tokens"] == 36
    assert agg["total_completion_tokens"] == 89
    assert agg["total_tokens"] == 125
    assert agg["model_usage_count"] == {"gpt-4o-mini": 2, "claude-haiku-4-5": 1, "gpt-4.1": 1}
    assert agg["provider_stats"] == {
        "openai": {"prompt": 31, "completion": 82, "total": 113},
        "anthropic": {"prompt": 5, "completion": 7, "total": 12},
    }
    assert agg["model_stats"]["gpt-4o-mini"] == {"prompt": 30, "completion": 80, "total": 110}
    assert agg["model_avg_latency"] == {"gpt-4o-mini": 200.0, "gpt-4.1": 50.0}

    # Filters narrow the rows and the totals, not the filter lists.
    r = await client.get(
        "/tokens/data", params={"model_provider": "openai", "model_used": ""}, headers=admin
    )
    body = r.json()
    assert {q["model_used"] for q in body["queries"]} == {"gpt-4o-mini", "gpt-4.1"}
    assert body["aggregated"]["total_tokens"] == 113
    assert body["filters"]["providers"] == ["anthropic", "openai"]
    r = await client.get("/tokens/data", params={"model_used": "gpt-4.1"}, headers=admin)
    assert r.json()["aggregated"]["model_usage_count"] == {"gpt-4.1": 1}


async def test_token_dashboard_empty(client: AppClient) -> None:
    body = (await client.get("/tokens/data", headers=await staff_headers(client))).json()
    assert body["queries"] == [] and body["filters"] == {"providers": [], "models": []}
    assert body["aggregated"]["total_tokens"] == 0
    assert body["aggregated"]["model_avg_latency"] == {}


async def test_query_history(client: AppClient) -> None:
    await client.post("/api/v1/session/start", json=start_body("s-1", "u1"))
    await client.post("/api/v1/session/start", json=start_body("s-2", "u1"))
    await log_calls(
        client,
        [
            call(
                "u1",
                "openai",
                "gpt-4o-mini",
                3,
                4,
                session_id="s-1",
                request={"query": "first question"},
                response_text="first answer",
                citations=[{"title": "T", "url": "https://example.org"}],
                latency_ms=12.5,
            ),
            call("u1", "openai", "gpt-4o-mini", None, None, session_id="s-2", request={}),
            call("u1", "openai", "gpt-4o-mini", 1, 1, session_id="s-1", request={"query": "2nd"}),
            call("u2", "openai", "gpt-4o-mini", 1, 1, request={"query": "someone else"}),
        ],
    )
    r = await client.get("/api/v1/query/history/u1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user_id"] == "u1" and body["total"] == 3
    assert [q["query"] for q in body["queries"]] == ["2nd", None, "first question"]  # newest first
    oldest = body["queries"][-1]
    assert oldest["_id"] == oldest["query_id"]
    assert oldest["response"] == "first answer"
    assert oldest["model_provider"] == "openai" and oldest["model_used"] == "gpt-4o-mini"
    assert oldest["tokens"] == {"prompt": 3, "completion": 4, "total": 7}
    assert oldest["citations"] == [{"title": "T", "url": "https://example.org"}]
    assert oldest["latency_ms"] == 12.5 and oldest["session_id"] == "s-1"
    assert body["queries"][1]["tokens"] is None

    r = await client.get("/api/v1/query/history/u1", params={"session_id": "s-1", "limit": 1})
    assert [q["query"] for q in r.json()["queries"]] == ["2nd"]
    assert (await client.get("/api/v1/query/history/u1?limit=0")).status_code == 422
