"""What the web UI needs beyond the study API: rename and delete conversations, and live
per-arm counts of an experiment."""

from __future__ import annotations

from sqlalchemy import func, select

from llm_platform.db.models import Event, Query
from tests.conftest import AppClient, staff_headers

U1 = {"X-User-ID": "u1"}
U2 = {"X-User-ID": "u2"}


async def _session(client: AppClient, sid: str, headers: dict[str, str], **extra: object) -> dict:
    r = await client.post("/api/v1/sessions", json={"session_id": sid, **extra}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def _query_row(client: AppClient, sid: str, user: str, **extra: object) -> None:
    async with client.app.state.platform.db.write_sessions() as db, db.begin():
        db.add(Query(user_id=user, session_id=sid, provider="p", model="m", **extra))


async def test_rename_session(client: AppClient) -> None:
    await _session(client, "s1", U1)
    r = await client.patch("/api/v1/sessions/s1", json={"title": "  Tax questions  "}, headers=U1)
    assert r.status_code == 200 and r.json()["title"] == "Tax questions"
    listed = (await client.get("/api/v1/sessions", headers=U1)).json()["items"]
    assert [s["title"] for s in listed] == ["Tax questions"]
    # Blank clears; unknown fields and other users' sessions are refused.
    r = await client.patch("/api/v1/sessions/s1", json={"title": " "}, headers=U1)
    assert r.json()["title"] is None
    r = await client.patch("/api/v1/sessions/s1", json={"title": "x", "user_id": "u2"}, headers=U1)
    assert r.status_code == 422
    r = await client.patch("/api/v1/sessions/s1", json={"title": "mine"}, headers=U2)
    assert r.status_code == 404
    r = await client.patch("/api/v1/sessions/s1", json={"title": "x" * 513}, headers=U1)
    assert r.status_code == 422


async def test_delete_session_removes_events_and_queries(client: AppClient) -> None:
    await _session(client, "s1", U1)
    await _session(client, "s2", U1)
    events = [{"event_id": f"e{i}", "t": 1, "type": "click"} for i in range(3)]
    for sid in ("s1", "s2"):
        r = await client.post(
            "/api/v1/events", json={"session_id": sid, "events": events}, headers=U1
        )
        assert r.status_code == 200
        await _query_row(client, sid, "u1")
    assert (await client.delete("/api/v1/sessions/s1", headers=U2)).status_code == 404
    assert (await client.delete("/api/v1/sessions/s1", headers=U1)).status_code == 204
    assert (await client.get("/api/v1/sessions/s1", headers=U1)).status_code == 404
    assert (await client.delete("/api/v1/sessions/s1", headers=U1)).status_code == 404
    async with client.app.state.platform.db.read_sessions() as db:
        rows = await db.execute(select(Event.session_id, func.count()).group_by(Event.session_id))
        by_session = {sid: n for sid, n in rows}
        queries = (await db.execute(select(Query.session_id))).scalars().all()
    assert by_session == {"s2": 3}
    assert queries == ["s2"]


async def test_experiment_stats_per_arm(client: AppClient) -> None:
    exp = {
        "id": "study1",
        "name": "Two arms",
        "variants": [
            {"name": "A", "weight": 1, "settings": {"temperature": 0.2}},
            {"name": "B", "weight": 1, "settings": {"system_prompt": "Be brief."}},
        ],
    }
    owner = await staff_headers(client, "researcher", "u1")
    assert (await client.post("/api/v1/experiments", json=exp, headers=owner)).status_code == 201
    r = await client.get("/api/v1/experiments/study1/stats", headers=owner)
    assert r.status_code == 200
    assert [(a["variant"], a["sessions"]) for a in r.json()["arms"]] == [("A", 0), ("B", 0)]

    arms: dict[str, int] = {}
    for i in range(8):
        user = {"X-User-ID": f"p{i}"}
        s = await _session(client, f"ps{i}", user, experiment_id="study1")
        arms[s["variant"]] = arms.get(s["variant"], 0) + 1
        ev = [{"event_id": f"e{j}", "t": 1, "type": "click"} for j in range(i + 1)]
        await client.post(
            "/api/v1/events", json={"session_id": f"ps{i}", "events": ev}, headers=user
        )
        await _query_row(
            client,
            f"ps{i}",
            f"p{i}",
            experiment_id="study1",
            variant=s["variant"],
            input_tokens=10,
            output_tokens=5,
            cost_usd=0.001,
        )
    body = (await client.get("/api/v1/experiments/study1/stats", headers=owner)).json()
    got = {a["variant"]: a for a in body["arms"]}
    assert {k: v["sessions"] for k, v in got.items() if v["sessions"]} == arms
    assert sum(a["events"] for a in got.values()) == sum(range(1, 9))
    assert sum(a["queries"] for a in got.values()) == 8
    assert sum(a["input_tokens"] for a in got.values()) == 80
    assert all(a["participants"] == a["sessions"] for a in got.values())
    # Another researcher's experiment is not found; participants read no experiment stats.
    other = await staff_headers(client, "researcher", "u2")
    assert (await client.get("/api/v1/experiments/study1/stats", headers=other)).status_code == 404
    assert (await client.get("/api/v1/experiments/nope/stats", headers=owner)).status_code == 404
    assert (await client.get("/api/v1/experiments/study1/stats", headers=U1)).status_code == 403
