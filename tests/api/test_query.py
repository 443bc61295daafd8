"""The query endpoints with the scripted provider (SQLite and PostgreSQL where it matters)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from llm_platform.core.config import ModelPrice, Settings
from llm_platform.providers.base import CitationEvent, DoneEvent, TextDelta, UsageEvent
from llm_platform.providers.errors import (
    ModelNotFound,
    ProviderAuthError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from llm_platform.providers.scripted import Fail, reasoning_events, text_events, tool_call_events
from tests.conftest import AppClient, staff_headers
from tests.support.query import body, parse_sse, query_client, scripted

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SCRIPT = [
    *reasoning_events("Step one.\n\nStep two."),
    *text_events("The answer is 42."),
    CitationEvent(title="Guide", url="https://example.org/guide"),
    UsageEvent(input_tokens=1000, output_tokens=200, reasoning_tokens=50, cached_tokens=400),
    DoneEvent(finish_reason="stop"),
]
PRICES = {"scripted:echo": ModelPrice(input=1.0, output=2.0, cached_input=0.5)}


async def logged(client: AppClient, **params: Any) -> list[dict[str, Any]]:
    await client.app.state.platform.query.log_writer.flush()
    r = await client.get("/api/v1/queries", params=params, headers=await staff_headers(client))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_json_query_is_answered_and_logged_with_session_events(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings, MODEL_PRICES=PRICES) as client:
        scripted(client).queue(SCRIPT)
        r = await client.post("/api/v1/query", json=body("what is it?", session_id="s-1"))
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["response"] == "The answer is 42."
        assert answer["supports_cot"] is True
        cot = answer["chain_of_thought"]
        assert [s["description"] for s in cot["steps"]] == ["Step one.", "Step two."]
        assert cot["reasoning_tokens"] == 50
        assert answer["citations"][0]["url"] == "https://example.org/guide"
        assert answer["usage"] == {
            "input_tokens": 1000,
            "output_tokens": 200,
            "reasoning_tokens": 50,
            "cached_tokens": 400,
            "total_tokens": 1200,
        }
        # (600 * 1.0 + 400 * 0.5 + 200 * 2.0) / 1e6
        assert answer["cost_usd"] == pytest.approx(0.0012)

        rows = await logged(client)
        assert len(rows) == 1
        row = rows[0]
        assert row["id"] == answer["query_id"]
        assert row["status"] == "ok" and row["error"] is None
        assert row["provider"] == "scripted" and row["model"] == "echo"
        assert row["response_text"] == "The answer is 42."
        assert row["reasoning_text"] == "Step one.\n\nStep two."
        assert row["input_tokens"] == 1000 and row["cached_tokens"] == 400
        assert row["cost_usd"] == pytest.approx(0.0012)
        assert row["latency_ms"] > 0 and row["ttft_ms"] is not None
        assert row["request"]["query"] == "what is it?"
        assert row["session_id"] == "s-1"

        events = (
            await client.get("/api/v1/sessions/s-1/events", headers=await staff_headers(client))
        ).json()["items"]
        assert [e["type"] for e in events] == ["prompt", "model_response"]
        assert events[0]["data"]["text"] == "what is it?"
        assert events[1]["data"]["text"] == "The answer is 42."
        assert events[1]["data"]["query_id"] == answer["query_id"]
        assert events[1]["data"]["model"] == "echo"


async def test_sse_reasoning_then_text_and_logged_row(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings) as client:
        scripted(client).queue(SCRIPT)
        r = await client.post("/api/v1/query/stream", json=body(session_id="s-2"))
        assert r.status_code == 200
        assert r.headers["cache-control"] == "no-cache"
        assert r.headers["x-accel-buffering"] == "no"
        assert r.headers["content-type"].startswith("text/event-stream")
        frames = parse_sse(r.text)
        assert frames[-1] == {"_done": True}
        frames = frames[:-1]
        assert [f["_id"] for f in frames] == list(range(1, len(frames) + 1))
        assert all(f["_event"] == f["type"] for f in frames)
        types = [f["type"] for f in frames]
        assert types[0] == "start" and types[-1] == "done"
        assert max(i for i, t in enumerate(types) if t == "thought") < types.index("token")
        assert "".join(f["content"] for f in frames if f["type"] == "token") == "The answer is 42."
        assert types.index("citation") < types.index("usage") < types.index("done")
        meta = frames[-1]["metadata"]
        assert meta["stream_id"] == r.headers["x-stream-id"] == frames[0]["stream_id"]
        assert meta["tokens"]["output_tokens"] == 200
        assert meta["latency"] > 0 and meta["ttft"] is not None
        # `done` is sent after the commit: the row is there without waiting.
        r = await client.get(
            "/api/v1/queries", params={"session_id": "s-2"}, headers=await staff_headers(client)
        )
        row = r.json()["items"][0]
        assert row["id"] == meta["query_id"] and row["status"] == "ok"


async def test_mid_stream_error_stores_partial_answer_as_incomplete(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings) as client:
        scripted(client).queue(
            [*text_events("Half an"), Fail(ProviderUnavailable("scripted", "connection reset"))]
        )
        r = await client.post("/api/v1/query/stream", json=body())
        assert r.status_code == 200
        frames = parse_sse(r.text)
        assert frames[-2]["type"] == "error"
        assert frames[-2]["status"] == "incomplete"
        assert frames[-1] == {"_done": True}
        row = (await logged(client))[0]
        assert row["status"] == "incomplete"
        assert row["response_text"] == "Half an"
        assert "connection reset" in row["error"]
        assert len(scripted(client).calls) == 1  # never retried after the first token


@sqlite_only
async def test_429_then_success_is_retried(make_settings: Callable[..., Settings]) -> None:
    async with query_client(make_settings) as client:
        scripted(client).queue(
            [Fail(ProviderRateLimited("scripted", "slow down", retry_after=0.01))],
            text_events("fine"),
        )
        r = await client.post("/api/v1/query/stream", json=body())
        tokens = [f["content"] for f in parse_sse(r.text) if f.get("type") == "token"]
        assert tokens == ["fine"]
        assert len(scripted(client).calls) == 2
        assert (await logged(client))[0]["status"] == "ok"


@sqlite_only
@pytest.mark.parametrize("endpoint", ["/api/v1/query", "/api/v1/query/stream"])
async def test_provider_errors_map_to_statuses(
    make_settings: Callable[..., Settings], endpoint: str
) -> None:
    async with query_client(make_settings, PROVIDER_MAX_RETRIES=0) as client:
        provider = scripted(client)
        provider.queue([Fail(ProviderRateLimited("scripted", "Rate limited", retry_after=7))])
        r = await client.post(endpoint, json=body())
        assert r.status_code == 429 and r.headers["retry-after"] == "7"

        provider.queue(
            [Fail(ProviderAuthError("scripted", "Provider 'scripted' rejected the key"))]
        )
        r = await client.post(endpoint, json=body())
        assert r.status_code == 502 and "scripted" in r.json()["detail"]

        r = await client.post(endpoint, json=body(model_name="no-such-model"))
        assert r.status_code == 400
        assert "scripted" in r.json()["detail"] and "no-such-model" in r.json()["detail"]
        rows = await logged(client)
        assert [row["status"] for row in rows] == ["error"] * 3


@sqlite_only
async def test_first_token_timeout(make_settings: Callable[..., Settings]) -> None:
    async with query_client(
        make_settings, FIRST_TOKEN_TIMEOUT_SECONDS=0.2, PROVIDER_MAX_RETRIES=0
    ) as client:
        r = await client.post("/api/v1/query", json=body(model_name="hang"))
        assert r.status_code == 504
        assert r.json()["type"] == "provider_timeout"
        assert scripted(client).last.outcome == "cancelled"


@sqlite_only
async def test_fallback_model_answers(make_settings: Callable[..., Settings]) -> None:
    async with query_client(make_settings, FALLBACK_MODELS=["scripted:plain"]) as client:
        r = await client.post("/api/v1/query", json=body(model_name="fail"))
        assert r.status_code == 200, r.text
        assert r.json()["model"] == "plain"
        assert r.json()["response"] == "You said: hello there"
        row = (await logged(client))[0]
        assert row["model"] == "plain"
        assert row["request"]["fallback_models"] == ["scripted:plain"]


@sqlite_only
async def test_request_fallbacks_must_be_valid(make_settings: Callable[..., Settings]) -> None:
    async with query_client(make_settings) as client:
        r = await client.post("/api/v1/query", json=body(fallback_models=["nope:x"]))
        assert r.status_code == 400 and scripted(client).calls == []


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()


@sqlite_only
@pytest.mark.parametrize(
    ("overrides", "status", "needle"),
    [
        ({"model_provider": "nope"}, 400, "Unknown provider 'nope'"),
        ({"model_provider": "anthropic"}, 400, "ANTHROPIC_API_KEY"),
        ({"model_name": "plain", "ALLOWED": ["scripted:echo"]}, 400, "not allowed"),
        ({"query": "   "}, 422, "query"),
        ({"query": ""}, 422, "query"),
        ({"history": [{"role": "wizard", "content": "x"}]}, 422, "history"),
        ({"max_tokens": 10_000}, 400, "4096"),
        ({"attachments": [{"type": "image", "base64": "A" * 2_000_000}]}, 413, "larger"),
        (
            {"attachments": [{"type": "file", "base64": base64.b64encode(b"%PDF-1.7").decode()}]},
            415,
            "images",
        ),
        (
            {
                "attachments": [
                    {"mime": "image/png", "base64": base64.b64encode(b"MZ\x90").decode()}
                ]
            },
            415,
            "images",
        ),
        # A plain call only: with the agents, the vision agent reads the image by OCR.
        (
            {"model_name": "plain", "agent_mode": "off", "attachments": [{"base64": PNG}]},
            400,
            "does not accept",
        ),
        ({"attachments": [{"base64": "!!not base64!!"}]}, 400, "base64"),
    ],
)
async def test_bad_input_is_rejected_without_an_upstream_call(
    make_settings: Callable[..., Settings], overrides: dict[str, Any], status: int, needle: str
) -> None:
    allowed = overrides.pop("ALLOWED", [])
    async with query_client(make_settings, MODEL_ALLOWLIST=allowed, MAX_ATTACHMENT_MB=1) as client:
        for endpoint in ("/api/v1/query", "/api/v1/query/stream"):
            r = await client.post(endpoint, json={**body(), **overrides})
            assert r.status_code == status, r.text
            assert needle in r.text
            assert r.json()["type"]
        assert scripted(client).calls == []
        assert await logged(client) == []


@sqlite_only
async def test_image_attachment_reaches_a_vision_model(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings) as client:
        r = await client.post(
            "/api/v1/query",
            json=body(attachments=[{"name": "a.png", "base64": f"data:image/png;base64,{PNG}"}]),
        )
        assert r.status_code == 200, r.text
        image = scripted(client).last.request.messages[-1].images[0]
        assert image.mime == "image/png" and image.name == "a.png"
        logged_att = (await logged(client))[0]["request"]["attachments"][0]
        assert logged_att["size"] == 40 and "sha256" in logged_att  # no image bytes in the log


@sqlite_only
async def test_model_name_is_optional_and_history_is_sent(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings) as client:
        history = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
        r = await client.post("/api/v1/query", json=body(model_name=None, history=history))
        assert r.status_code == 200 and r.json()["model"] == "echo"
        sent = scripted(client).last.request
        assert [m.role for m in sent.messages] == ["user", "assistant", "user"]
        r = await client.post("/api/v1/query", json={"query": "x", "user_id": "u1"})
        assert r.status_code == 200  # no provider named: the only configured one


async def test_experiment_variant_sets_system_prompt_model_and_temperature(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings) as client:
        arm = {
            "name": "only",
            "settings": {
                "system_prompt": "Be terse.",
                "provider": "scripted",
                "model": "plain",
                "temperature": 0.1,
            },
        }
        r = await client.post(
            "/api/v1/experiments",
            json={"id": "exp1", "name": "E", "variants": [arm]},
            headers=await staff_headers(client, "researcher"),
        )
        assert r.status_code == 201, r.text
        r = await client.post(
            "/api/v1/sessions", json={"session_id": "s-x", "user_id": "u1", "experiment_id": "exp1"}
        )
        assert r.json()["variant"] == "only"
        r = await client.post(
            "/api/v1/query", json=body(session_id="s-x", model_name="echo", temperature=1.5)
        )
        assert r.status_code == 200 and r.json()["model"] == "plain"
        sent = scripted(client).last.request
        assert sent.system == "Be terse." and sent.temperature == 0.1 and sent.model == "plain"
        row = (await logged(client))[0]
        assert row["experiment_id"] == "exp1" and row["variant"] == "only"


@sqlite_only
async def test_scripted_provider_in_the_model_list(make_settings: Callable[..., Settings]) -> None:
    async with query_client(make_settings) as client:
        r = await client.get("/api/v1/models")
        assert r.status_code == 200
        models = {f"{m['provider']}:{m['model']}": m for m in r.json()["models"]}
        assert models["scripted:echo"]["capabilities"]["reasoning"] is True
        assert models["scripted:echo"]["capabilities"]["vision"] is True
        assert models["scripted:plain"]["capabilities"]["reasoning"] is False


@sqlite_only
async def test_scripted_provider_is_off_by_default(make_settings: Callable[..., Settings]) -> None:
    async with query_client(make_settings, ENABLE_SCRIPTED_PROVIDER=False) as client:
        listed = {m["provider"] for m in (await client.get("/api/v1/models")).json()["models"]}
        assert "scripted" not in listed
        r = await client.post("/api/v1/query", json=body())
        assert r.status_code == 400 and r.json()["type"] == "unknown_provider"


@sqlite_only
async def test_no_key_in_logs_errors_or_rows(
    make_settings: Callable[..., Settings], capfd: pytest.CaptureFixture[str]
) -> None:
    secret = "sk-test-SECRETSECRETSECRET1234"
    async with query_client(
        make_settings,
        OPENAI_API_KEY=secret,
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",  # nothing listens: refused at once
        PROVIDER_MAX_RETRIES=0,
        LOG_LEVEL="DEBUG",
    ) as client:
        scripted(client).queue([TextDelta(text="x"), Fail(ModelNotFound("scripted", "gone"))])
        await client.post("/api/v1/query", json=body())
        r = await client.post("/api/v1/query", json=body(model_provider="openai"))
        assert secret not in r.text
        rows = await logged(client)
        assert secret not in str(rows)
    out, err = capfd.readouterr()
    assert secret not in out + err


@sqlite_only
async def test_tool_calls_over_the_v1_api(make_settings: Callable[..., Settings]) -> None:
    """`tools` in, `tool_calls` out (JSON answer, `tool_call` frames, the logged row); a
    second round's calls and results as `tool_rounds`."""
    tool = {"name": "lookup", "parameters": {"type": "object", "properties": {}}}
    call = ("call_1", "lookup", '{"q": "x"}')
    async with query_client(make_settings) as client:
        scripted(client).queue(tool_call_events(call), tool_call_events(call))
        r = await client.post("/api/v1/query", json=body("find x", tools=[tool]))
        assert r.status_code == 200, r.text
        assert r.json()["tool_calls"] == [
            {"id": "call_1", "name": "lookup", "arguments": '{"q": "x"}'}
        ]
        r = await client.post("/api/v1/query/stream", json=body("find x", tools=[tool]))
        frames = [f for f in parse_sse(r.text) if f.get("type") == "tool_call"]
        assert [(f["id"], f["name"], f["arguments"]) for f in frames] == [call]
        rows = await logged(client)
        assert rows[0]["tool_calls"] == [
            {"id": "call_1", "name": "lookup", "arguments": '{"q": "x"}'}
        ]

        scripted(client).queue(text_events("x is 1."))
        rounds = [
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [dict(zip(("id", "name", "arguments"), call, strict=True))],
            },
            {"role": "tool", "content": "1", "tool_call_id": "call_1"},
        ]
        r = await client.post(
            "/api/v1/query", json=body("find x", tools=[tool], tool_rounds=rounds)
        )
        assert r.status_code == 200, r.text
        assert r.json()["response"] == "x is 1." and r.json()["tool_calls"] == []
        sent = scripted(client).last.request.messages
        assert [m.role for m in sent] == ["user", "assistant", "tool"]
        bad = [{"role": "tool", "content": "1", "tool_call_id": "call_404"}]
        r = await client.post("/api/v1/query", json=body("find x", tools=[tool], tool_rounds=bad))
        assert r.status_code == 400 and "call_404" in r.json()["detail"]
        r = await client.post("/api/v1/query", json=body("find x", history=bad))
        assert r.status_code == 400 and "history.0" in r.json()["detail"]
