"""Studies: balanced assignment, exports with a codebook, withdrawal (nothing left in any
table or the blob store), retention, and the pilot command."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from redis.asyncio import Redis
from sqlalchemy import select, update

from llm_platform.core.config import Settings
from llm_platform.db.models import Base, Study, StudyParticipant, utcnow
from llm_platform.db.repositories.studies import ParticipantRepository
from llm_platform.providers.base import TextDelta
from llm_platform.providers.scripted import Hang
from llm_platform.services.studies import flow
from llm_platform.services.studies.assignment import choose_arm
from llm_platform.services.studies.withdrawal import purge_expired
from llm_platform.study_commands import run_pilot
from tests.conftest import AppClient
from tests.support.query import FAST, live_server, query_client, scripted, sse_frames
from tests.support.studies import bearer, create_study, definition, enter, lab, walk


@pytest.fixture
async def client(make_settings: Callable[..., Settings]) -> AsyncIterator[AppClient]:
    async with query_client(make_settings) as c:
        yield c


def test_choose_arm_is_balanced_and_reproducible() -> None:
    arms = ["a", "b", "c"]
    sizes: Counter[str] = Counter()
    picks = []
    for n in range(1000):
        pick = choose_arm(arms, dict(sizes), seed=7, sequence=n, target=None)
        sizes[pick.arm] += 1
        picks.append(pick.arm)
        assert max(sizes[a] for a in arms) - min(sizes[a] for a in arms) <= 1
    again = []
    sizes2: Counter[str] = Counter()
    for n in range(1000):
        pick = choose_arm(arms, dict(sizes2), seed=7, sequence=n, target=None)
        sizes2[pick.arm] += 1
        again.append(pick.arm)
    assert picks == again
    other = [choose_arm(arms, {}, seed=8, sequence=n, target=None).arm for n in range(30)]
    assert len(set(other)) == 3


async def _arms(client: AppClient, study: str) -> Counter[str]:
    state = client.app.state.platform
    async with state.db.read_sessions() as s:
        rows = await ParticipantRepository(s).list_for(study)
    return Counter(p.arm for p in rows)


async def test_1000_arrivals_stay_balanced(client: AppClient) -> None:
    await create_study(client, definition(pre_questionnaire=[], post_questionnaire=[]))
    state = client.app.state.platform
    sizes: Counter[str] = Counter()
    for n in range(1000):
        async with state.db.write_sessions() as db:
            out = await flow.enter(db, state, "trust", {"PROLIFIC_PID": f"p{n}"}, None, None)
            await db.commit()
        async with state.db.read_sessions() as db:
            p = await ParticipantRepository(db).by_user(state.tokens.verify(out.token))
        assert p is not None
        sizes[p.arm] += 1
        assert max(sizes.values()) - min(sizes[a] for a in ("warm", "cold", "plain")) <= 1
        assert p.assignment["counts"] and p.assignment["seed"] == 42
    assert await _arms(client, "trust") == sizes


async def test_concurrent_arrivals_and_dropouts(client: AppClient) -> None:
    await create_study(client)
    results = await asyncio.gather(*(enter(client, "trust", f"c{n}") for n in range(60)))
    assert all(r.status_code == 200 for r in results), [r.text for r in results][:3]
    # The same recruitment id twice at once: one participant.
    twins = await asyncio.gather(*(enter(client, "trust", "twin") for _ in range(5)))
    assert len({client.app.state.platform.tokens.verify(r.json()["token"]) for r in twins}) == 1
    sizes = await _arms(client, "trust")
    assert sum(sizes.values()) == 61 and max(sizes.values()) - min(sizes.values()) <= 1
    # Everybody in "warm" dropped out (silent for longer than the timeout): the next
    # arrivals fill "warm" first.
    state = client.app.state.platform
    async with state.db.write_sessions() as db:
        await db.execute(
            update(StudyParticipant)
            .where(StudyParticipant.arm == "warm")
            .values(last_seen_at=utcnow() - timedelta(hours=2))
        )
        await db.commit()
    fresh = [await enter(client, "trust", f"late{n}") for n in range(5)]
    async with state.db.read_sessions() as db:
        repo = ParticipantRepository(db)
        arms = [(await repo.by_user(state.tokens.verify(r.json()["token"]))).arm for r in fresh]
    assert arms == ["warm"] * 5
    prog = (await client.get("/api/v1/studies/trust/progress", headers=await lab(client))).json()
    warm = next(a for a in prog["arms"] if a["arm"] == "warm")
    assert warm["dropped"] == sizes["warm"] and warm["active"] == 5


async def _export(client: AppClient, table: str, fmt: str) -> Any:
    r = await client.get(
        f"/api/v1/studies/trust/export/{table}?format={fmt}", headers=await lab(client)
    )
    assert r.status_code == 200, r.text
    return r


async def test_exports_match_the_codebook(client: AppClient) -> None:
    await create_study(client)
    token, _ = await walk(client, "trust", "PID-EXPORT-1")
    await walk(client, "trust", "PID-EXPORT-2")
    # UI events in the task's session.
    me = (await client.get("/api/v1/studies/trust/me", headers=bearer(token))).json()
    r = await client.post(
        "/api/v1/events",
        json={
            "session_id": me["session_id"],
            "events": [{"event_id": "e1", "t": 1, "type": "click", "data": {"x": 1}}],
        },
        headers=bearer(token),
    )
    assert r.status_code in (200, 201, 202), r.text
    book = (await client.get("/api/v1/studies/trust/codebook", headers=await lab(client))).json()
    assert set(book["tables"]) == {"participants", "messages", "events", "answers"}
    assert "trust1" in [c["name"] for c in book["tables"]["answers"]]
    pseudonyms: dict[str, set[str]] = {}
    for table, columns in book["tables"].items():
        names = [c["name"] for c in columns]
        assert all(c["description"] for c in columns)
        r = await _export(client, table, "csv")
        assert "PID-EXPORT" not in r.text
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows[0] == names, table
        r = await _export(client, table, "jsonl")
        assert "PID-EXPORT" not in r.text
        records = [json.loads(line) for line in r.text.splitlines()]
        assert records and all(list(rec) == names for rec in records), table
        pseudonyms[table] = {rec["participant"] for rec in records}
        r = await _export(client, table, "parquet")
        parquet = pq.read_table(io.BytesIO(r.content))
        assert parquet.column_names == names and parquet.num_rows == len(records)
    assert pseudonyms["participants"] == pseudonyms["answers"] == pseudonyms["messages"]
    assert len(pseudonyms["participants"]) == 2
    messages = [
        json.loads(x) for x in (await _export(client, "messages", "jsonl")).text.splitlines()
    ]
    assert [m["turn"] for m in messages] == [1, 2, 1, 2]
    assert all(m["model"] == "instant" and m["latency_ms"] is not None for m in messages)
    # Stable pseudonyms: the same in a second export.
    again = {
        json.loads(x)["participant"]
        for x in (await _export(client, "participants", "jsonl")).text.splitlines()
    }
    assert again == pseudonyms["participants"]
    # The mapping, on request, audited; exports audited too.
    r = await client.get("/api/v1/studies/trust/recruitment-map", headers=await lab(client))
    mapping = {row["pseudonym"]: row["recruitment_id"] for row in r.json()}
    assert sorted(mapping.values()) == ["PID-EXPORT-1", "PID-EXPORT-2"]
    assert set(mapping) == pseudonyms["participants"]
    audit = (await client.get("/api/v1/studies/trust/audit", headers=await lab(client))).json()
    actions = Counter(a["action"] for a in audit)
    assert actions["export"] == 14 and actions["recruitment_map_read"] == 1
    assert "PID-EXPORT" not in json.dumps(audit)


async def _everything(client: AppClient) -> str:
    """Every row of every table, as text."""
    state = client.app.state.platform
    chunks = []
    async with state.db.read_sessions() as db:
        for table in Base.metadata.sorted_tables:
            for row in (await db.execute(select(table))).all():
                chunks.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(chunks)


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


async def test_withdrawal_leaves_nothing(client: AppClient, tmp_path: Path) -> None:
    await create_study(client)
    keep_token, _ = await walk(client, "trust", "KEEP-ME")
    token, _ = await walk(client, "trust", "WITHDRAW-ME")
    state = client.app.state.platform
    user_id = state.tokens.verify(token)
    auth = bearer(token)
    me = (await client.get("/api/v1/studies/trust/me", headers=auth)).json()
    await client.post(
        "/api/v1/events",
        json={
            "session_id": me["session_id"],
            "events": [{"event_id": "e1", "t": 1, "type": "click", "data": {"x": 1}}],
        },
        headers=auth,
    )
    await client.post("/api/v1/sessions", json={"session_id": f"{user_id}:other"}, headers=auth)
    assert state.rag is not None  # files and RAG are on in tests
    files_before = _files(Path(state.settings.DATA_DIR))
    r = await client.post(
        "/api/v1/files/upload",
        files={"file": ("notes.txt", b"my private notes " * 50, "text/plain")},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    blobs = _files(Path(state.settings.DATA_DIR)) - files_before
    assert blobs  # the upload's blob
    pseudonym = (
        await client.get("/api/v1/studies/trust/participants", headers=await lab(client))
    ).json()[1]["pseudonym"]
    before = await _everything(client)
    assert user_id in before and pseudonym in before

    # Withdraw while an answer is streaming.
    scripted(client).queue([Hang()])
    stream = asyncio.create_task(
        client.post(
            "/api/v1/query/stream",
            json={"query": "still typing", "session_id": me["session_id"]},
            headers=auth,
        )
    )
    await asyncio.sleep(0.3)
    r = await client.post("/api/v1/studies/trust/withdraw", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn"
    streamed = await asyncio.wait_for(stream, 10)
    assert streamed.status_code == 200 and "still typing" not in streamed.text
    await asyncio.sleep(0.2)
    await state.query.log_writer.flush()
    after = await _everything(client)
    assert user_id not in after and pseudonym not in after and "WITHDRAW-ME" not in after
    assert state.tokens.keyed_hash("study-recruitment", "trust\x00WITHDRAW-ME") not in after
    keep_user = state.tokens.verify(keep_token)
    assert keep_user in after  # the other participant is untouched
    assert not blobs & _files(Path(state.settings.DATA_DIR))  # the blob store has none left
    r = await client.get("/api/v1/studies/trust/me", headers=auth)
    assert r.status_code == 404
    audit = (await client.get("/api/v1/studies/trust/audit", headers=await lab(client))).json()
    deleted = [a for a in audit if a["action"] == "participant_deleted"]
    assert deleted and deleted[0]["details"]["by"] == "participant"
    assert user_id not in json.dumps(audit)

    # The researcher deletes the other one by recruitment id.
    r = await client.delete("/api/v1/studies/trust/participants/KEEP-ME", headers=await lab(client))
    assert r.status_code == 204
    assert keep_user not in await _everything(client)
    r = await client.delete("/api/v1/studies/trust/participants/KEEP-ME", headers=await lab(client))
    assert r.status_code == 404
    r = await client.delete(
        "/api/v1/studies/trust/participants/%F0%9F%91%A9'%3Cb%3E", headers=await lab(client)
    )
    assert r.status_code == 404


async def test_retention_purges_closed_studies(client: AppClient) -> None:
    await create_study(client, definition(retention_days=30))
    await create_study(client, definition("keep", retention_days=30))
    token, _ = await walk(client, "trust", "OLD")
    await walk(client, "keep", "OLD")
    state = client.app.state.platform
    await client.post("/api/v1/studies/trust/close", headers=await lab(client))
    await client.post("/api/v1/studies/keep/close", headers=await lab(client))
    assert await purge_expired(state.db, state) == {}  # not yet 30 days
    async with state.db.write_sessions() as db:
        await db.execute(
            update(Study).where(Study.id == "trust").values(closed_at=utcnow() - timedelta(days=31))
        )
        await db.commit()
    assert await purge_expired(state.db, state) == {"trust": 1}
    assert state.tokens.verify(token) not in await _everything(client)
    assert (await purge_expired(state.db, state)) == {}
    r = await client.post("/api/v1/studies/trust/open", headers=await lab(client))
    assert r.status_code == 409
    prog = (await client.get("/api/v1/studies/keep/progress", headers=await lab(client))).json()
    assert prog["totals"]["completed"] == 1


async def test_pilot_command(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(**FAST)
    async with query_client(lambda **kw: settings) as client:
        await create_study(client)
        await create_study(client, definition("draft-one"), open_it=False)
    text, ok = await run_pilot(
        settings, "trust", participants=9, url=None, key=None, concurrency=3, seed=1, max_wait_s=0
    )
    assert ok, text
    assert "completed: 9 (100%)" in text
    assert "cold=3, plain=3, warm=3" in text and "failed steps: none" in text
    text, ok = await run_pilot(
        settings,
        "draft-one",
        participants=2,
        url=None,
        key=None,
        concurrency=2,
        seed=1,
        max_wait_s=0,
    )
    assert not ok and "enter=2" in text
    async with query_client(lambda **kw: settings) as client:
        rows = (
            await client.get("/api/v1/studies/trust/participants", headers=await lab(client))
        ).json()
        assert len(rows) == 9 and all(r["is_pilot"] for r in rows)
        prog = (
            await client.get("/api/v1/studies/trust/progress", headers=await lab(client))
        ).json()
        assert prog["totals"]["started"] == 0  # pilots are not real participants
        r = await client.get(
            "/api/v1/studies/trust/export/participants?format=jsonl", headers=await lab(client)
        )
        assert r.text == ""
        r = await client.get(
            "/api/v1/studies/trust/export/participants?format=jsonl&include_pilot=true",
            headers=await lab(client),
        )
        assert len(r.text.splitlines()) == 9


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_withdrawal_reaches_a_stream_on_another_instance(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    """Two instances sharing Redis: a participant's answer streams from A, they withdraw
    through B; the generation on A is cancelled and logged before the deletion, and the
    stream's buffer is gone from Redis and from A's own copy."""
    settings = make_settings(**FAST, REDIS_URL=redis_url)
    async with (
        live_server(settings) as (url_a, app_a),
        live_server(settings) as (url_b, app_b),
        AppClient(base_url=url_a, timeout=20) as a,
        AppClient(base_url=url_b, timeout=20) as b,
    ):
        a.app, b.app = app_a, app_b
        await create_study(a)
        token, _ = await walk(a, "trust", "ON-A")
        auth = bearer(token)
        me = (await a.get("/api/v1/studies/trust/me", headers=auth)).json()
        user_id = app_a.state.platform.tokens.verify(token)
        scripted(a).queue([TextDelta(text="partial "), Hang()])
        body = {"query": "still typing", "session_id": me["session_id"]}
        async with a.stream("POST", "/api/v1/query/stream", json=body, headers=auth) as response:
            stream_id = response.headers["x-stream-id"]
            frames = sse_frames(response)
            while (await anext(frames))["type"] != "token":
                pass
            r = await b.post("/api/v1/studies/trust/withdraw", headers=auth)
            assert r.status_code == 200, r.text
            rest = [f async for f in frames]
        assert rest[-2]["metadata"]["status"] == "cancelled"
        assert scripted(a).last.outcome == "cancelled"
        redis = Redis.from_url(redis_url)
        try:
            for _ in range(100):  # the buffers go after the response (a background task)
                gone = not await redis.exists(f"llmp:stream:{stream_id}")
                if gone and not await app_a.state.platform.query.streams.store.exists(stream_id):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the stream's buffer outlived the withdrawal")
        finally:
            await redis.aclose()
        await app_a.state.platform.query.log_writer.flush()
        assert user_id not in await _everything(a)
