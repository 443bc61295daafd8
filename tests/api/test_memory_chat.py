"""Memories in chat, end to end with the real intent router and memory store: remember in
one session, recall in another ("what do you remember about me?"), forget, with the memory
frames on the stream; the user's switch off stops both recall and saving."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from llm_platform.core.config import Settings
from llm_platform.providers.base import TextDelta
from llm_platform.providers.scripted import text_events
from tests.conftest import AppClient, staff_headers
from tests.support.query import body, parse_sse, query_client, scripted

U1 = {"X-User-ID": "u1"}


async def turn(client: AppClient, query: str, session: str, user: str = "u1") -> list[Any]:
    r = await client.post(
        "/api/v1/query/stream",
        json=body(query, user_id=user, session_id=session, agent_mode="auto"),
        headers={"X-User-ID": user},
    )
    assert r.status_code == 200, r.text
    return parse_sse(r.text)[:-1]


def memory_frames(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("type") == "memory"]


async def settled(client: AppClient) -> None:
    """Until the background jobs after the last turn (memory, summary) are done."""
    runtime = client.app.state.platform.query.agents
    for _ in range(200):
        if not runtime.learning:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("background agent jobs still running")


async def memories(client: AppClient, user: str = "u1") -> list[str]:
    r = await client.get("/api/v1/memories", headers={"X-User-ID": user})
    assert r.status_code == 200, r.text
    return [m["text"] for m in r.json()["items"]]


async def test_remember_recall_forget_across_sessions(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings) as client:
        frames = await turn(client, "Please remember that I live in Lyon", "u1:s1")
        saved = memory_frames(frames)
        assert saved and saved[0]["changes"][0]["action"] == "add"
        assert await memories(client) == ["I live in Lyon"]
        # The same fact again is not a second memory.
        await turn(client, "Remember that I live in Lyon", "u1:s1")
        assert await memories(client) == ["I live in Lyon"]
        # Another user knows nothing of it.
        await turn(client, "What do you remember about me?", "u2:s1", user="u2")
        assert "Lyon" not in (scripted(client).last.request.system or "")

        frames = await turn(client, "What do you remember about me?", "u1:s2")
        used = memory_frames(frames)
        assert used and [m["text"] for m in used[0]["used"]] == ["I live in Lyon"]
        assert "I live in Lyon" in (scripted(client).last.request.system or "")
        # The query log names the memories used, by id.
        await client.app.state.platform.query.log_writer.flush()
        staff = await staff_headers(client)
        logged = (
            await client.get(f"/api/v1/queries/{frames[0]['query_id']}", headers=staff)
        ).json()
        assert logged["request"]["agents"]["memories_used"] == [used[0]["used"][0]["id"]]

        frames = await turn(client, "Forget that I live in Lyon", "u1:s3")
        assert memory_frames(frames)[0]["changes"][0]["action"] == "delete"
        assert await memories(client) == []
        await turn(client, "What do you remember about me?", "u1:s4")
        assert "Lyon" not in (scripted(client).last.request.system or "")


async def test_switched_off_memory_neither_saves_nor_recalls(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings) as client:
        await turn(client, "Remember that my favourite colour is green", "u1:s1")
        r = await client.put("/api/v1/memories/settings", json={"enabled": False}, headers=U1)
        assert r.status_code == 200, r.text
        await turn(client, "Remember that I play the cello", "u1:s2")
        frames = await turn(client, "What do you remember about me?", "u1:s3")
        assert not any(f["used"] for f in memory_frames(frames))
        assert "green" not in (scripted(client).last.request.system or "")
        assert await memories(client) == ["My favourite colour is green"]
        # Sensitive statements are never saved, even when asked; other chat is not kept
        # as said (without a model for the agents nothing reads it).
        await client.put("/api/v1/memories/settings", json={"enabled": True}, headers=U1)
        await turn(client, "Remember that my password is hunter2", "u1:s4")
        await turn(client, "I just moved to Lyon, any restaurant tips?", "u1:s5")
        assert await memories(client) == ["My favourite colour is green"]


async def test_facts_in_ordinary_chat_are_learned_after_the_turn(
    make_settings: Callable[..., Settings],
) -> None:
    """With a model for the agents, the memory agent reads each turn's message after the
    answer (a background job, once per query) and keeps what the user says about themselves."""
    async with query_client(make_settings, AGENT_LLM_MODEL="scripted:echo") as client:
        provider = scripted(client)
        provider.queue(text_events("Keep a fixed sleep window and a dark room."))
        provider.queue(
            [
                TextDelta(
                    text='{"facts": [{"text": "Works as a nurse", "kind": "fact", '
                    '"category": "work"}]}'
                )
            ]
        )
        question = "I work as a nurse; how can I sleep better after night shifts?"
        await turn(client, question, "u1:s1")
        for _ in range(100):
            if await memories(client):
                break
            await asyncio.sleep(0.05)
        assert await memories(client) == ["Works as a nurse"]
        extraction = provider.calls[-1].request
        assert extraction.response_schema is not None
        assert extraction.messages[-1].content.endswith("after night shifts?")
        # A message saying nothing about the user is not sent to the extractor.
        calls = len(provider.calls)
        await turn(client, "What is the capital of Peru?", "u1:s1")
        await asyncio.sleep(0.2)
        assert len(provider.calls) == calls + 1


async def test_a_long_conversation_is_read_through_its_rolling_summary(
    make_settings: Callable[..., Settings],
) -> None:
    """Past HISTORY_TOKEN_BUDGET the writer reads the newest messages only; a background job
    then summarises the older turns (with the agents' model), and the next turn's writer
    reads that summary instead of them."""
    async with query_client(
        make_settings, AGENT_LLM_MODEL="scripted:echo", HISTORY_TOKEN_BUDGET=64
    ) as client:
        provider = scripted(client)
        history: list[dict[str, str]] = []
        for n in range(4):  # four logged turns of the same session
            question = f"Describe topic number {n} " + "in some detail " * 6
            provider.queue(text_events(f"Topic {n} is about " + "many things " * 6))
            r = await client.post(
                "/api/v1/query",
                json=body(question, session_id="u1:long", history=history, agent_mode="auto"),
                headers=U1,
            )
            assert r.status_code == 200, r.text
            history += [
                {"role": "user", "content": question},
                {"role": "assistant", "content": r.json()["response"]},
            ]
            if n == 1:  # the first turn past the budget: the summary job's model answer
                provider.queue(text_events("Earlier: the user asked about topics 0 and 1."))
            await settled(client)
        provider.queue(text_events("Fine."))
        r = await client.post(
            "/api/v1/query",
            json=body("And now?", session_id="u1:long", history=history, agent_mode="auto"),
            headers=U1,
        )
        assert r.status_code == 200, r.text
        writer = provider.last.request
        assert "Earlier: the user asked about topics" in (writer.system or "")
        assert len(writer.messages) < len(history) + 1  # not the whole conversation
        assert writer.messages[-1].content == "And now?"
