"""Grounded answers: the query service retrieves from the user's files (real local embedding
model, real vector store on SQLite and PostgreSQL), cites before the first token, logs the
citations, and says so when no document supports the question."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
import websockets

from llm_platform.core.config import Settings
from llm_platform.providers.base import DoneEvent
from llm_platform.providers.scripted import text_events
from llm_platform.providers.sse import decode_text
from llm_platform.rag.embeddings import LocalEmbedder
from llm_platform.services.rag import NO_SUPPORT_PROMPT, SOURCES_PREAMBLE
from tests.conftest import AppClient, start_client
from tests.support.documents import REPORT_PAGES, make_pdf
from tests.support.files import upload, wait_done
from tests.support.query import FAST, body, live_server, parse_sse, scripted

ANSWER = [*text_events("Lyon switched to renewables [1]."), DoneEvent(finish_reason="stop")]
NOTES = (
    b"Team offsite notes\nThe offsite will take place in Grenoble in October.\n"
    b"Hiking on Saturday, workshops on Friday."
)


@pytest.fixture
async def client(
    make_settings: Callable[..., Settings],
    embedder: LocalEmbedder,
) -> AsyncIterator[AppClient]:
    async for c in start_client(make_settings(**FAST)):
        yield c


async def ready_file(client: AppClient, name: str, data: bytes, user: str = "u1") -> str:
    r = await upload(client, name, data, user=user)
    assert r.status_code in (200, 201, 202), r.text
    fid: str = r.json()["id"]
    done = await wait_done(client, fid, user=user)
    assert done["status"] == "ready", done
    return fid


async def stream(client: AppClient, query: str, **extra: Any) -> list[dict[str, Any]]:
    r = await client.post(
        "/api/v1/query/stream", json=body(query, **extra), headers={"x-user-id": "u1"}
    )
    assert r.status_code == 200, r.text
    return parse_sse(r.text)


async def logged_row(client: AppClient, query_id: str) -> dict[str, Any]:
    await client.app.state.platform.query.log_writer.flush()
    r = await client.get("/api/v1/queries", params={"user_id": "u1"})
    assert r.status_code == 200, r.text
    rows = [row for row in r.json()["items"] if row["id"] == query_id]
    assert len(rows) == 1
    row: dict[str, Any] = rows[0]
    return row


async def test_stream_cites_sources_before_tokens_and_logs_them(client: AppClient) -> None:
    fid = await ready_file(
        client, "acme.pdf", make_pdf(REPORT_PAGES, title="Acme Annual Report 2023")
    )
    scripted(client).queue(ANSWER)
    frames = await stream(client, "Where did the factories switch to renewable electricity?")
    kinds = [f.get("_event") or f.get("type") for f in frames if not f.get("_done")]
    assert "citation" in kinds and "token" in kinds
    assert kinds.index("citation") < kinds.index("token")
    assert max(i for i, k in enumerate(kinds) if k == "citation") < kinds.index("token")
    citations = [f["citation"] for f in frames if f.get("type") == "citation"]
    first = citations[0]
    assert first["index"] == 1 and first["file_id"] == fid
    assert first["file_name"] == "acme.pdf" and first["page"] == 3
    assert "Lyon" in first["snippet"] and first["score"] > 0

    system = scripted(client).calls[-1].request.system
    assert system is not None and SOURCES_PREAMBLE in system
    assert "[1] acme.pdf, page 3" in system and "Lyon" in system

    done = next(f for f in frames if f.get("type") == "done")
    grounding = done["metadata"]["grounding"]
    assert grounding["used"] is True and grounding["supported"] is True

    row = await logged_row(client, done["metadata"]["query_id"])
    assert row["citations"][0]["file_id"] == fid and row["citations"][0]["page"] == 3
    assert row["request"]["grounding"]["supported"] is True


async def test_json_answer_without_supporting_document(client: AppClient) -> None:
    await ready_file(client, "acme.pdf", make_pdf(REPORT_PAGES))
    scripted(client).queue(ANSWER)
    r = await client.post(
        "/api/v1/query",
        json=body("best recipe for chocolate cake"),
        headers={"x-user-id": "u1"},
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["citations"] == []
    assert answer["grounding"]["used"] is True and answer["grounding"]["supported"] is False
    assert any("No supporting document" in n for n in answer["grounding"]["notes"])
    system = scripted(client).calls[-1].request.system
    assert system is not None and NO_SUPPORT_PROMPT in system
    row = await logged_row(client, answer["query_id"])
    assert row["citations"] == []


async def test_json_answer_has_citations_and_use_rag_false_skips(client: AppClient) -> None:
    await ready_file(client, "acme.pdf", make_pdf(REPORT_PAGES))
    scripted(client).queue(ANSWER, ANSWER)
    question = body("Where did the factories switch to renewable electricity?")
    r = await client.post("/api/v1/query", json=question, headers={"x-user-id": "u1"})
    answer = r.json()
    assert answer["citations"][0]["file_name"] == "acme.pdf"
    row = await logged_row(client, answer["query_id"])
    assert row["citations"][0]["file_name"] == "acme.pdf"

    r = await client.post(
        "/api/v1/query", json={**question, "use_rag": False}, headers={"x-user-id": "u1"}
    )
    off = r.json()
    assert off["citations"] == [] and off["grounding"] is None
    system = scripted(client).calls[-1].request.system
    assert system is None or SOURCES_PREAMBLE not in system


async def test_no_files_means_no_grounding(client: AppClient) -> None:
    scripted(client).queue(ANSWER)
    frames = await stream(client, "Where did the factories switch to renewable electricity?")
    assert not any(f.get("type") == "citation" for f in frames)
    done = next(f for f in frames if f.get("type") == "done")
    assert "grounding" not in done["metadata"]


async def test_file_ids_restrict_retrieval(client: AppClient) -> None:
    acme = await ready_file(client, "acme.pdf", make_pdf(REPORT_PAGES))
    notes = await ready_file(client, "offsite.txt", NOTES)
    question = "Where did the factories switch to renewable electricity?"
    scripted(client).queue(ANSWER, ANSWER)
    frames = await stream(client, question, file_ids=[notes])
    cited = {f["citation"]["file_id"] for f in frames if f.get("type") == "citation"}
    assert acme not in cited
    frames = await stream(client, question, file_ids=[acme])
    cited = {f["citation"]["file_id"] for f in frames if f.get("type") == "citation"}
    assert cited == {acme}


async def test_another_users_file_id_is_not_found(client: AppClient) -> None:
    theirs = await ready_file(client, "offsite.txt", NOTES, user="u2")
    for path in ("/api/v1/query", "/api/v1/query/stream"):
        r = await client.post(
            path, json=body("Where is the offsite?", file_ids=[theirs]), headers={"x-user-id": "u1"}
        )
        assert r.status_code == 404, r.text
        missing = await client.post(
            path, json=body("Where is the offsite?", file_ids=["nope"]), headers={"x-user-id": "u1"}
        )
        assert missing.status_code == 404
        assert missing.json()["detail"] == r.json()["detail"]  # no existence leak
    assert scripted(client).calls == []


async def test_websocket_cites_before_tokens_and_rejects_foreign_file(
    make_settings: Callable[..., Settings],
    embedder: LocalEmbedder,
) -> None:
    async with live_server(make_settings(**FAST)) as (url, _app):
        async with AppClient(base_url=url) as http:
            fid = await ready_file(http, "acme.pdf", make_pdf(REPORT_PAGES))
            theirs = await ready_file(http, "offsite.txt", NOTES, user="u2")
        ws_url = url.replace("http", "ws") + "/api/v1/ws/query?user_id=u1"
        async with websockets.connect(ws_url) as ws:
            question = body("Where did the factories switch to renewable electricity?")
            await ws.send(orjson.dumps({"type": "query", **question}))
            got: list[dict[str, Any]] = []
            while not got or got[-1]["type"] not in ("done", "error"):
                got.append(orjson.loads(await asyncio.wait_for(ws.recv(), 10)))
            types = [m["type"] for m in got]
            assert types[-1] == "done" and types.index("citation") < types.index("token")
            assert got[types.index("citation")]["citation"]["file_id"] == fid

            await ws.send(orjson.dumps({"type": "query", **question, "file_ids": [theirs]}))
            rejected = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            assert rejected["type"] == "error" and rejected["http_status"] == 404


async def test_openai_facade_grounds_only_on_request_and_returns_citations(
    client: AppClient,
) -> None:
    fid = await ready_file(client, "acme.pdf", make_pdf(REPORT_PAGES))
    question = "Where did the factories switch to renewable electricity?"
    chat: dict[str, Any] = {
        "model": "scripted:echo",
        "messages": [{"role": "user", "content": question}],
    }
    headers = {"x-user-id": "u1"}
    scripted(client).queue(ANSWER, ANSWER, ANSWER)

    # OpenAI clients bring their own context: no grounding unless asked for.
    r = await client.post("/v1/chat/completions", json=chat, headers=headers)
    assert r.status_code == 200, r.text
    assert "citations" not in r.json()
    system = scripted(client).calls[-1].request.system
    assert system is None or SOURCES_PREAMBLE not in system

    r = await client.post("/v1/chat/completions", json={**chat, "file_ids": [fid]}, headers=headers)
    assert r.status_code == 200, r.text
    completion = r.json()
    assert completion["choices"][0]["message"]["content"] == "Lyon switched to renewables [1]."
    cited = completion["citations"][0]
    assert cited["file_id"] == fid and cited["page"] == 3 and "Lyon" in cited["snippet"]
    assert SOURCES_PREAMBLE in (scripted(client).calls[-1].request.system or "")

    r = await client.post(
        "/v1/chat/completions", json={**chat, "use_rag": True, "stream": True}, headers=headers
    )
    assert r.status_code == 200, r.text
    chunks = [orjson.loads(e.data) for e in decode_text(r.text) if e.data != b"[DONE]"]
    with_citations = [i for i, c in enumerate(chunks) if c.get("citations")]
    with_content = [i for i, c in enumerate(chunks) if c["choices"][0]["delta"].get("content")]
    assert with_citations and with_content and max(with_citations) < min(with_content)
    assert chunks[with_citations[0]]["citations"][0]["file_name"] == "acme.pdf"
    assert all(c["object"] == "chat.completion.chunk" and c["choices"] for c in chunks)
