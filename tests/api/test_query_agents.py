"""The agent graph through the query API with the scripted model: agent frames on the SSE,
WebSocket and original client's streams, failures and timeouts as error steps, agent mode
off, the shopping interview resumed after a restart, agent steps in the log."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from llm_platform.core.config import Settings
from llm_platform.providers.errors import ProviderUnavailable
from llm_platform.providers.scripted import Fail, text_events
from llm_platform.services.agents.runtime import AgentPorts, AgentRuntime
from tests.conftest import AppClient, staff_headers
from tests.support.agents import (
    Catalog,
    KeywordRouter,
    ListMemory,
    ThreeStepInterviewer,
    fake_ocr,
    hang,
)
from tests.support.query import body, parse_sse, query_client, scripted, without_agents

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
U1 = {"X-User-ID": "u1"}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()


def agents_of(client: AppClient) -> AgentRuntime:
    runtime = client.app.state.platform.query.agents
    assert runtime is not None
    return runtime


def use_ports(client: AppClient, **ports: Any) -> AgentPorts:
    runtime = agents_of(client)
    runtime.ports = AgentPorts(router=KeywordRouter(), **ports)
    return runtime.ports


def agent_frames(frames: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f["agent"], f["status"]) for f in frames if f.get("type") == "agent"]


async def stream(client: AppClient, query: str, **extra: Any) -> list[dict[str, Any]]:
    r = await client.post("/api/v1/query/stream", json=body(query, **extra))
    assert r.status_code == 200, r.text
    return parse_sse(r.text)[:-1]


async def test_sse_agent_frames_come_first_and_steps_are_logged(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings) as client:
        use_ports(
            client, memory=ListMemory(items={"m1": "likes light laptop models"}), products=Catalog()
        )
        frames = await stream(client, "find a light laptop", session_id="s-a1")
        types = [f["type"] for f in frames]
        assert types[0] == "start" and types[-1] == "done"
        assert types[1] == "agent" and frames[1]["agent"] == "coordinator"
        first_token = types.index("token")
        # Every agent but the writer ended before the first token; products and memory too.
        assert {"products", "memory"} <= set(types[:first_token])
        assert agent_frames(frames[:first_token])[-1] == ("writer", "started")
        assert ("writer", "ok") in agent_frames(frames[first_token:])
        ok = [f for f in frames if f.get("type") == "agent" and f["status"] == "ok"]
        assert {f["agent"] for f in ok} == {"coordinator", "memory", "product", "writer"}
        assert all(f["duration_ms"] is not None and f["step_id"] for f in ok)
        products = next(f for f in frames if f["type"] == "products")["products"]
        assert [p["id"] for p in products] == ["p1", "p2"]
        memory = next(f for f in frames if f["type"] == "memory")
        assert memory["used"] == [{"id": "m1", "text": "likes light laptop models"}]
        # The writer's call got the memories and the products in its system prompt.
        system = scripted(client).last.request.system or ""
        assert "likes light laptop models" in system and "[P2] Forge 16 gaming laptop" in system
        # The answer's frames are the plain call's, agent frames aside.
        plain = [f["type"] for f in without_agents(frames)]
        assert plain[0] == "start" and plain[-2:] == ["usage", "done"]

        query_id = frames[0]["query_id"]
        r = await client.get(f"/api/v1/queries/{query_id}", headers=U1)
        assert r.status_code == 200, r.text
        detail = r.json()
        steps = detail["agent_steps"]
        assert next(s["agent"] for s in steps) == "coordinator" and steps[-1]["agent"] == "writer"
        assert {s["agent"] for s in steps} == {"coordinator", "memory", "product", "writer"}
        assert all(s["status"] == "ok" and s["latency_ms"] is not None for s in steps)
        assert steps[-1]["model"] == "scripted:echo" and steps[-1]["output_tokens"]
        assert detail["request"]["agents"]["intent"] == "product"
        assert detail["request"]["agents"]["decision"]["stages"] == []
        assert detail["request"]["agent_mode"] == "auto"
        # Another user's query is not found; a researcher sees it.
        r = await client.get(f"/api/v1/queries/{query_id}", headers={"X-User-ID": "mallory"})
        assert r.status_code == 404
        r = await client.get(f"/api/v1/queries/{query_id}", headers=await staff_headers(client))
        assert r.status_code == 200 and len(r.json()["agent_steps"]) == len(steps)


@sqlite_only
async def test_plain_chat_is_two_steps_and_agent_mode_off_is_a_plain_call(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings) as client:
        use_ports(client)
        frames = await stream(client, "hello there")
        assert agent_frames(frames) == [
            ("coordinator", "started"),
            ("coordinator", "ok"),
            ("writer", "started"),
            ("writer", "ok"),
        ]
        frames = await stream(client, "hello there", agent_mode="off")
        assert agent_frames(frames) == []
        r = await client.get(f"/api/v1/queries/{frames[0]['query_id']}", headers=U1)
        assert r.json()["agent_steps"] == [] and "agent_mode" not in r.json()["request"]
        # The server's default.
    async with query_client(make_settings, AGENT_MODE_DEFAULT="off") as client:
        assert agent_frames(await stream(client, "hello there")) == []
        assert agent_frames(await stream(client, "hello", agent_mode="auto"))


@sqlite_only
async def test_a_failing_agent_mid_turn_and_a_hanging_one_never_hang_the_stream(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings, AGENT_TIMEOUTS={"product": 0.3}) as client:
        catalog = Catalog()
        catalog.find = hang  # type: ignore[method-assign]
        use_ports(client, memory=ListMemory(fail=True), products=catalog)
        r = await asyncio.wait_for(
            client.post("/api/v1/query/stream", json=body("find a laptop")), 5
        )
        frames = parse_sse(r.text)[:-1]
        errors = {
            f["agent"]: f["summary"]
            for f in frames
            if f.get("type") == "agent" and f["status"] == "error"
        }
        assert errors == {
            "memory": "RuntimeError: vector index unavailable",
            "product": "timed out after 0.3 s",
        }
        assert "".join(f["content"] for f in frames if f["type"] == "token") == (
            "You said: find a laptop"
        )
        assert frames[-1]["type"] == "done" and frames[-1]["metadata"]["status"] == "ok"
        r = await client.get(f"/api/v1/queries/{frames[0]['query_id']}", headers=U1)
        failed = {s["agent"]: s["error"] for s in r.json()["agent_steps"] if s["status"] == "error"}
        assert failed == errors


@sqlite_only
async def test_a_writer_failing_before_its_first_token_is_an_http_error(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings, PROVIDER_MAX_RETRIES=0) as client:
        use_ports(client)
        scripted(client).queue([Fail(ProviderUnavailable("scripted", "down"))])
        r = await client.post("/api/v1/query/stream", json=body("hi"))
        assert r.status_code == 502 and r.json()["type"] == "provider_unavailable", r.text


@sqlite_only
async def test_the_original_clients_stream_carries_the_agents(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings, LEGACY_CLIENT_COMPAT=True) as client:
        use_ports(
            client,
            memory=ListMemory(items={"m1": "likes laptop bags"}),
            products=Catalog(),
            interviewer=ThreeStepInterviewer(),
        )
        # The original client's format: agent steps as status lines, product cards as a
        # node, the memory context in `final`.
        legacy = {
            "query": "find a laptop",
            "user_id": "u1",
            "session_id": "s-legacy",
            "model_provider": "scripted",
            "model_name": "echo",
            "use_memory": True,
        }
        await client.post("/api/v1/session/start", json={"session_id": "s-legacy", "user_id": "u1"})
        r = await client.post("/api/v1/query/stream", json=legacy)
        lines = [
            orjson.loads(line[6:]) for line in r.text.split("\n") if line.startswith("data: {")
        ]
        statuses = [f["message"] for f in lines if f["type"] == "status"]
        assert "memory: recalled 1 memory" in statuses and "product: found 2 products" in statuses
        assert not any(s.startswith(("coordinator", "writer")) for s in statuses)
        (cards,) = [f for f in lines if f["type"] == "node" and f["node_type"] == "product_cards"]
        assert [c["id"] for c in cards["product_cards"]] == ["p1", "p2"]
        final = lines[-1]
        assert final["type"] == "final"
        assert final["memory_context"]["used"] == [{"id": "m1", "text": "likes laptop bags"}]
        kinds = [f["type"] for f in lines]
        assert kinds.index("node") < kinds.index("chunk")

        # Answered at once: the same, as fields.
        r = await client.post("/api/v1/query/", json=legacy)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert [c["id"] for c in answer["product_cards"]] == ["p1", "p2"]
        assert answer["memory_context"]["used"] == [{"id": "m1", "text": "likes laptop bags"}]
        assert answer["options"] == []
        # The shopping interview's options are the final frame's.
        r = await client.post(
            "/api/v1/query/stream", json={**legacy, "query": "I want to buy a laptop"}
        )
        final = orjson.loads(r.text.split("data: ")[-2])
        assert final["type"] == "final" and final["options"] == ["Work", "Gaming", "Travel"]


@sqlite_only
async def test_websocket_agent_frames_in_order(make_settings: Callable[..., Settings]) -> None:
    import websockets

    from tests.support.query import FAST, live_server

    async with live_server(make_settings(**FAST)) as (url, app):
        app.state.platform.query.agents.ports = AgentPorts(
            router=KeywordRouter(), products=Catalog()
        )
        ws_url = url.replace("http", "ws") + "/api/v1/ws/query?user_id=u1"
        async with websockets.connect(ws_url) as ws:
            await ws.send(orjson.dumps({"type": "query", **body("find a laptop")}))
            msgs: list[dict[str, Any]] = []
            while not msgs or msgs[-1]["type"] not in ("done", "error"):
                msgs.append(orjson.loads(await asyncio.wait_for(ws.recv(), 5)))
        types = [m["type"] for m in msgs]
        assert types[0] == "start" and types[-1] == "done"
        assert agent_frames(msgs) == [
            ("coordinator", "started"),
            ("coordinator", "ok"),
            ("product", "started"),
            ("product", "ok"),
            ("writer", "started"),
            ("writer", "ok"),
        ]
        assert types.index("products") < types.index("token")
        assert [m["id"] for m in msgs] == list(range(1, len(msgs) + 1))


async def test_shopping_interview_resumes_after_a_restart(
    make_settings: Callable[..., Settings],
) -> None:
    """Turn one on one app; turns two and three on a new app on the same database."""

    def ports(client: AppClient) -> Catalog:
        catalog = Catalog()
        use_ports(client, interviewer=ThreeStepInterviewer(), products=catalog)
        return catalog

    async with query_client(make_settings) as client:
        ports(client)
        frames = await stream(client, "I want to buy a laptop", session_id="shop-1")
        (options,) = [f for f in frames if f["type"] == "options"]
        assert options == {
            "type": "options",
            "question": "What will you mainly use it for?",
            "field": "use_case",
            "options": ["Work", "Gaming", "Travel"],
            "_id": options["_id"],
            "_event": "options",
        }
    async with query_client(make_settings) as client:
        catalog = ports(client)
        frames = await stream(client, "Gaming", session_id="shop-1")
        (options,) = [f for f in frames if f["type"] == "options"]
        assert options["field"] == "budget_max"
        assert "What is your budget?" in (scripted(client).last.request.system or "")
        frames = await stream(client, "under 1000", session_id="shop-1")
        assert not [f for f in frames if f["type"] == "options"]
        (products,) = [f for f in frames if f["type"] == "products"]
        assert [p["id"] for p in products["products"]] == ["p1"]
        assert catalog.calls == [("under 1000", {"use_case": "gaming", "budget_max": 1000.0})]
        assert "[P1] Aero 14 laptop" in (scripted(client).last.request.system or "")
        # The same words in another session are plain chat.
        frames = await stream(client, "Gaming", session_id="shop-2")
        assert {a for a, _ in agent_frames(frames)} == {"coordinator", "writer"}

        # Deleting a conversation deletes its graph state (and its agent steps).
        frames = await stream(client, "I want to buy a laptop", session_id="shop-3")
        assert [f for f in frames if f["type"] == "options"]
        r = await client.delete("/api/v1/sessions/shop-3", headers=U1)
        assert r.status_code == 204, r.text
        frames = await stream(client, "Gaming", session_id="shop-3")
        assert not [f for f in frames if f["type"] == "options"]
        r = await client.get(f"/api/v1/queries/{frames[0]['query_id']}", headers=U1)
        assert [s["agent"] for s in r.json()["agent_steps"]] == ["coordinator", "writer"]


@sqlite_only
async def test_an_image_for_a_model_without_vision_is_read_by_ocr(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings) as client:
        use_ports(client, ocr=fake_ocr)
        scripted(client).queue(text_events("I read the text of your image with OCR: 99 EUR."))
        r = await client.post(
            "/api/v1/query",
            json=body(
                "what is the total?",
                model_name="plain",
                attachments=[{"base64": PNG, "name": "invoice.png"}],
            ),
        )
        assert r.status_code == 200, r.text
        request = scripted(client).last.request
        assert all(not m.images for m in request.messages)
        assert "INVOICE 4711 total 99 EUR" in (request.system or "")
        assert "OCR" in (request.system or "")
        await client.app.state.platform.query.log_writer.flush()
        r = await client.get(f"/api/v1/queries/{r.json()['query_id']}", headers=U1)
        (vision,) = [s for s in r.json()["agent_steps"] if s["agent"] == "vision"]
        assert vision["output_summary"] == "no vision model: OCR read text from 1 of 1 image(s)"


@sqlite_only
async def test_the_openai_facade_is_a_plain_call_unless_asked(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings) as client:
        use_ports(client, products=Catalog())
        payload = {
            "model": "scripted:echo",
            "messages": [{"role": "user", "content": "find a laptop"}],
        }
        r = await client.post("/v1/chat/completions", json=payload)
        assert r.status_code == 200, r.text
        assert "[P1]" not in (scripted(client).last.request.system or "")
        r = await client.post("/v1/chat/completions", json={**payload, "agent_mode": "auto"})
        assert r.status_code == 200
        assert "[P1] Aero 14 laptop" in (scripted(client).last.request.system or "")
        r = await client.post(
            "/v1/chat/completions", json={**payload, "agent_mode": "auto", "stream": True}
        )
        assert '"agent"' not in r.text and "chat.completion.chunk" in r.text


@sqlite_only
async def test_an_experiment_arm_sets_agent_mode_and_memory(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings) as client:
        memory = ListMemory(items={"m1": "likes hiking trips"})
        use_ports(client, memory=memory)
        lab = await staff_headers(client, "researcher", "lab")
        arms = {
            "id": "agents-arms",
            "name": "Agents on or off",
            "variants": [
                {"name": "plain", "settings": {"provider": "scripted", "agent_mode": "off"}},
                {"name": "no-memory", "settings": {"provider": "scripted", "memory": False}},
            ],
        }
        r = await client.post("/api/v1/experiments", json=arms, headers=lab)
        assert r.status_code == 201, r.text
        seen: dict[str, list[tuple[str, str]]] = {}
        for n in range(40):
            if len(seen) == 2:
                break
            sid = f"arm-{n}"
            r = await client.post(
                "/api/v1/sessions",
                json={"session_id": sid, "user_id": f"p{n}", "experiment_id": "agents-arms"},
                headers={"X-User-ID": f"p{n}"},
            )
            assert r.status_code in (200, 201), r.text
            variant = r.json()["variant"]
            if variant in seen:
                continue
            frames = await stream(
                client,
                "plan hiking trips",
                user_id=f"p{n}",
                session_id=sid,
                agent_mode="auto",  # the arm's setting wins
            )
            seen[variant] = agent_frames(frames)
        assert seen["plain"] == []
        assert {a for a, _ in seen["no-memory"]} == {"coordinator", "writer"}
