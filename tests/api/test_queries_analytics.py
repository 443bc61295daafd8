"""The query log's read side: history with filters and cursors, token and cost totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from llm_platform.core.config import Settings, _default_prices
from llm_platform.db.models import Query
from llm_platform.services.pricing import call_cost
from tests.conftest import AppClient, staff_headers
from tests.support.errors import assert_error

PRICES = _default_prices()
DAY1 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
DAY2 = datetime(2025, 3, 2, 23, 30, tzinfo=UTC)


def call(
    user: str,
    provider: str,
    model: str,
    at: datetime,
    *,
    inp: int | None = 1000,
    out: int | None = 500,
    reasoning: int | None = None,
    cached: int | None = None,
    session_id: str | None = None,
    experiment_id: str | None = None,
    latency: float | None = 100.0,
    ttft: float | None = 20.0,
    status: str = "ok",
) -> Query:
    return Query(
        user_id=user,
        session_id=session_id,
        experiment_id=experiment_id,
        provider=provider,
        model=model,
        request={"messages": [{"role": "user", "content": "hi"}]},
        response_text="hello",
        input_tokens=inp,
        output_tokens=out,
        reasoning_tokens=reasoning,
        cached_tokens=cached,
        latency_ms=latency,
        ttft_ms=ttft,
        status=status,
        created_at=at,
        cost_usd=call_cost(
            PRICES, provider, model, input_tokens=inp, output_tokens=out, cached_tokens=cached
        ),
    )


async def insert(client: AppClient, *rows: Query) -> None:
    async with client.app.state.platform.db.write_sessions() as session, session.begin():
        session.add_all(rows)


def test_price_table() -> None:
    # gpt-4o: 2.5 in / 10 out / 1.25 cached, USD per million.
    cost = call_cost(PRICES, "openai", "gpt-4o", input_tokens=1000, output_tokens=500)
    assert cost == pytest.approx(0.0075)
    cached = call_cost(
        PRICES, "openai", "gpt-4o", input_tokens=1000, output_tokens=500, cached_tokens=400
    )
    assert cached == pytest.approx((600 * 2.5 + 400 * 1.25 + 500 * 10) / 1e6)
    assert call_cost(PRICES, "openai", "gpt-unknown", input_tokens=1, output_tokens=1) is None
    assert call_cost(PRICES, "openai", "gpt-4o", input_tokens=None, output_tokens=1) is None
    assert call_cost(PRICES, "local", "smollm2-135m-instruct", input_tokens=9, output_tokens=9) == 0


def test_price_table_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_PRICES", '{"acme:m1": {"input": 1, "output": 2}}')
    prices = Settings(_env_file=None).MODEL_PRICES  # type: ignore[call-arg]
    assert call_cost(prices, "acme", "m1", input_tokens=10**6, output_tokens=10**6) == 3.0
    assert "openai:gpt-4o" in prices  # configured prices extend the built-in table


async def seed(client: AppClient) -> None:
    await client.post("/api/v1/sessions", json={"session_id": "s1", "user_id": "alice"})
    await insert(
        client,
        call("alice", "openai", "gpt-4o", DAY1, session_id="s1", experiment_id="x"),
        call("alice", "openai", "gpt-4o", DAY1 + timedelta(hours=1), cached=200, reasoning=50),
        call("alice", "anthropic", "claude-sonnet-4-5", DAY2, inp=2000, out=100, ttft=None),
        call("bob", "openai", "gpt-4o-mini", DAY2, session_id=None, latency=300.0),
        call("bob", "openai", "my-finetune", DAY2, inp=10, out=10),  # no known price
        call("bob", "openai", "gpt-4o", DAY2, inp=None, out=None, status="error"),
    )


async def tokens(client: AppClient, **params: Any) -> dict[str, Any]:
    r = await client.get(
        "/api/v1/analytics/tokens", params=params, headers=await staff_headers(client)
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_tokens_by_provider(client: AppClient) -> None:
    await seed(client)
    body = await tokens(client, group_by="provider")
    groups = {g["key"]: g for g in body["groups"]}
    assert set(groups) == {"openai", "anthropic"}
    openai = groups["openai"]
    assert openai["queries"] == 5
    assert openai["input_tokens"] == 1000 + 1000 + 1000 + 10
    assert openai["reasoning_tokens"] == 50 and openai["cached_tokens"] == 200
    # Any unpriced call makes the group's cost unknown: null, never 0.
    assert openai["cost_usd"] is None and openai["unpriced_queries"] == 2
    anthropic = groups["anthropic"]
    assert anthropic["cost_usd"] == pytest.approx((2000 * 3 + 100 * 15) / 1e6)
    assert anthropic["avg_ttft_ms"] is None
    assert body["totals"]["queries"] == 6 and body["totals"]["cost_usd"] is None
    assert body["totals"]["total_tokens"] == sum(g["total_tokens"] for g in body["groups"])


async def test_tokens_by_model_and_day(client: AppClient) -> None:
    await seed(client)
    by_model = {g["key"]: g for g in (await tokens(client, group_by="model"))["groups"]}
    assert set(by_model) == {
        "openai:gpt-4o",
        "openai:gpt-4o-mini",
        "openai:my-finetune",
        "anthropic:claude-sonnet-4-5",
    }
    mini = by_model["openai:gpt-4o-mini"]
    assert mini["cost_usd"] == pytest.approx((1000 * 0.15 + 500 * 0.6) / 1e6)
    assert by_model["openai:my-finetune"]["cost_usd"] is None
    by_day = {g["key"]: g for g in (await tokens(client, group_by="day"))["groups"]}
    assert set(by_day) == {"2025-03-01", "2025-03-02"}
    assert by_day["2025-03-01"]["queries"] == 2
    day1_cost = sum(
        call_cost(PRICES, "openai", "gpt-4o", input_tokens=1000, output_tokens=500, cached_tokens=c)
        or 0
        for c in (None, 200)
    )
    assert by_day["2025-03-01"]["cost_usd"] == pytest.approx(day1_cost)
    assert by_day["2025-03-01"]["avg_latency_ms"] == pytest.approx(100.0)


async def test_tokens_time_window_and_user_filter(client: AppClient) -> None:
    await seed(client)
    day1 = await tokens(client, group_by="provider", **{"from": "2025-03-01", "to": "2025-03-02"})
    assert day1["totals"]["queries"] == 2 and day1["totals"]["cost_usd"] is not None
    # Offsets are honoured: 2025-03-02T23:30Z is 2025-03-03T01:30+02:00.
    late = await tokens(client, **{"from": "2025-03-03T01:00:00+02:00"})
    assert late["totals"]["queries"] == 4
    later = await tokens(client, **{"from": "2025-03-03T02:00:00+02:00"})
    assert later["totals"]["queries"] == 0 and later["groups"] == []
    assert later["totals"]["cost_usd"] == 0  # no calls at all: nothing unknown
    alice = await tokens(client, user_id="alice")
    assert alice["totals"]["queries"] == 3
    # A researcher's analytics cover their own calls (and their experiments': none here) ...
    bob = await staff_headers(client, "researcher", "bob")
    scoped = await client.get("/api/v1/analytics/tokens", headers=bob)
    assert scoped.json()["totals"]["queries"] == 3
    # ... and a participant reads none.
    r = await client.get("/api/v1/analytics/tokens", headers={"X-User-ID": "bob"})
    assert_error(r, 403, "forbidden")


async def test_query_history_filters_and_cursor(client: AppClient) -> None:
    await seed(client)
    # Several calls at the very same instant: the cursor must not skip or repeat any.
    same = DAY2 + timedelta(minutes=5)
    await insert(client, *[call("carol", "openai", "gpt-4o", same) for _ in range(7)])
    admin = await staff_headers(client)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"user_id": "carol", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/queries", params=params, headers=admin)).json()
        seen += [q["id"] for q in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 7 and len(set(seen)) == 7

    everything = (await client.get("/api/v1/queries", params={"limit": 100}, headers=admin)).json()[
        "items"
    ]
    times = [q["created_at"] for q in everything]
    assert times == sorted(times, reverse=True)  # newest first
    by_session = (
        await client.get("/api/v1/queries", params={"session_id": "s1"}, headers=admin)
    ).json()
    assert [q["model"] for q in by_session["items"]] == ["gpt-4o"]
    item = by_session["items"][0]
    assert item["input_tokens"] == 1000 and item["ttft_ms"] == 20.0 and item["status"] == "ok"
    assert item["request"]["messages"][0]["content"] == "hi"
    by_experiment = (
        await client.get("/api/v1/queries", params={"experiment_id": "x"}, headers=admin)
    ).json()
    assert len(by_experiment["items"]) == 1
    bob = (await client.get("/api/v1/queries", headers={"X-User-ID": "bob"})).json()["items"]
    assert {q["user_id"] for q in bob} == {"bob"} and len(bob) == 3
    errored = [q for q in bob if q["status"] == "error"]
    assert errored[0]["cost_usd"] is None and errored[0]["input_tokens"] is None


async def test_from_after_to_is_400(client: AppClient) -> None:
    r = await client.get(
        "/api/v1/analytics/tokens",
        params={"from": "2025-01-02", "to": "2025-01-01"},
        headers=await staff_headers(client),
    )
    assert_error(r, 400, "bad_request")
