"""The original client's session routes, replayed exactly as it sends them."""

from __future__ import annotations

import asyncio
import json

from tests.conftest import AppClient, staff_headers
from tests.support.legacy_client import FRONTEND_ORIGIN, environment, start_body


async def v1_events(client: AppClient, session_id: str) -> list[dict]:
    r = await client.get(f"/api/v1/sessions/{session_id}/events", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_start_is_idempotent_and_keeps_everything(client: AppClient) -> None:
    body = start_body("s-1", "u-1")
    body["environment"]["timezone"] = "Europe/Oslo"  # a field the contract does not list
    r = await client.post("/api/v1/session/start", json=body)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["status"] == "created" and first["session_id"] == "s-1"
    assert first["environment"] == body["environment"]
    assert first["experiment_id"] == "production_v1"

    # useSession runs again once the location is known: same answer, location added.
    location = {"latitude": 59.91, "longitude": 10.75, "accuracy": 20}
    again = start_body("s-1", "u-1")
    again["environment"]["location"] = location
    r = await client.post("/api/v1/session/start", json=again)
    assert r.status_code == 200
    assert r.json()["status"] == "exists"
    stored = (await client.get("/api/v1/sessions/s-1")).json()
    assert stored["environment"]["location"] == location
    assert stored["environment"]["timezone"] == "Europe/Oslo"


async def test_free_text_experiment_id_from_the_modal(client: AppClient) -> None:
    r = await client.post(
        "/api/v1/session/start", json=start_body("s-2", "u-1", experiment_id="Pilot study #2")
    )
    assert r.status_code == 200, r.text
    r = await client.get("/api/v1/session/s-2/experiment")
    assert r.json()["experiment_id"] == "Pilot study #2"


async def test_start_rejects_bad_input_with_a_clear_4xx(client: AppClient) -> None:
    r = await client.post("/api/v1/session/start", json={"session_id": "s-3"})
    assert r.status_code == 422
    assert "user_id" in r.json()["detail"]
    r = await client.post("/api/v1/session/start", content=b"{not json", headers=_json())
    assert r.status_code == 422


async def test_beacon_end_from_the_frontend_origin(client: AppClient) -> None:
    await client.post("/api/v1/session/start", json=start_body("s-4", "u-1"))

    # sendBeacon with an application/json Blob is not a "simple" request: preflight first.
    pre = await client.options(
        "/api/v1/session/end",
        headers={
            "Origin": FRONTEND_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
    assert pre.headers["access-control-allow-credentials"] == "true"  # beacons send cookies
    assert "content-type" in pre.headers["access-control-allow-headers"].lower()
    assert "POST" in pre.headers["access-control-allow-methods"]

    r = await client.post(
        "/api/v1/session/end",
        content=json.dumps({"session_id": "s-4"}).encode(),
        headers={"Origin": FRONTEND_ORIGIN, "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
    assert r.json()["status"] == "ended"
    view = (await client.get("/api/v1/session/s-4")).json()
    assert view["status"] == "ended" and view["end_time"] is not None

    # The page comes back (reload, React remount): the session is active again.
    await client.post("/api/v1/session/start", json=start_body("s-4", "u-1"))
    assert (await client.get("/api/v1/session/s-4")).json()["status"] == "active"


async def test_beacon_end_with_a_text_plain_body(client: AppClient) -> None:
    await client.post("/api/v1/session/start", json=start_body("s-5", "u-1"))
    r = await client.post(
        "/api/v1/session/end",
        content=json.dumps({"session_id": "s-5"}),
        headers={"Origin": FRONTEND_ORIGIN, "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
    assert (await client.get("/api/v1/sessions/s-5")).json()["ended_at"] is not None


async def test_end_errors(client: AppClient) -> None:
    r = await client.post("/api/v1/session/end", json={"session_id": "nope"})
    assert r.status_code == 404
    assert r.json()["type"] == "not_found"
    r = await client.post("/api/v1/session/end", content=b"session_id=x", headers=_text())
    assert r.status_code == 422 and r.json()["detail"].startswith("Malformed JSON body")
    r = await client.post("/api/v1/session/end", content=b"{}", headers=_text())
    assert r.status_code == 422 and "session_id" in r.json()["detail"]


async def test_other_origins_get_no_cors_grant(client: AppClient) -> None:
    pre = await client.options(
        "/api/v1/session/end",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in pre.headers


async def test_burst_of_single_event_posts_all_stored_with_every_field(client: AppClient) -> None:
    await client.post("/api/v1/session/start", json=start_body("s-6", "u-1"))
    t0 = 1_760_000_000_000
    sent = [
        {
            "session_id": "s-6",
            "event": {
                "t": t0 + i,
                "type": ["scroll", "click", "hover", "selection", "activity"][i % 5],
                "data": {
                    "scrollY": i * 10.5,
                    "direction": "down",
                    "target": f"#msg-{i}",
                    "x": i,
                    "y": None,
                    "custom_field": {"nested": [i, "kept"]},  # not in the contract: kept
                },
            },
        }
        for i in range(50)
    ]
    responses = await asyncio.gather(*[client.post("/api/v1/session/event", json=b) for b in sent])
    assert [r.status_code for r in responses] == [200] * 50, [r.text for r in responses]
    acks = [r.json() for r in responses]
    assert all(a["status"] == "updated" for a in acks)
    assert len({a["event_id"] for a in acks}) == 50  # server-assigned, distinct

    stored = await v1_events(client, "s-6")
    assert len(stored) == 50
    by_t = {e["t"]: e for e in stored}
    for body, ack in zip(sent, acks, strict=True):
        event = by_t[body["event"]["t"]]
        assert event["type"] == body["event"]["type"]
        assert event["data"] == body["event"]["data"]
        assert event["event_id"] == ack["event_id"]

    view = (await client.get("/api/v1/session/s-6", params={"include_events": "true"})).json()
    assert view["event_count"] == 50
    assert sorted(e["t"] for e in view["events"]) == [t0 + i for i in range(50)]
    assert all({"t", "type", "data"} <= set(e) for e in view["events"])
    no_events = (await client.get("/api/v1/session/s-6")).json()
    assert no_events["events"] is None and no_events["event_count"] == 50


async def test_events_before_start_are_kept_and_the_start_claims_the_session(
    client: AppClient,
) -> None:
    # The tracker runs while the experiment modal is open: the session is not started yet.
    early = [
        {"session_id": "s-10", "event": {"t": 100 + i, "type": "key", "data": {"target": "Enter"}}}
        for i in range(10)
    ]
    responses = await asyncio.gather(*[client.post("/api/v1/session/event", json=b) for b in early])
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    # Meanwhile the client looks the session up: no experiment yet, not read-only.
    got = (await client.get("/api/v1/session/s-10/experiment")).json()
    assert got["experiment_id"] is None
    view = (await client.get("/api/v1/session/s-10")).json()
    assert not view["user_id"]

    r = await client.post("/api/v1/session/start", json=start_body("s-10", "u-1", "exp 1"))
    assert r.status_code == 200
    started = r.json()
    assert started["status"] == "created"
    assert started["user_id"] == "u-1" and started["experiment_id"] == "exp 1"
    assert started["environment"] == environment()
    assert len(await v1_events(client, "s-10")) == 10
    again = await client.post("/api/v1/session/start", json=start_body("s-10", "u-1", "exp 1"))
    assert again.json()["status"] == "exists"
    # Its owner is u-1 now for every route, including v1's (no stale owner is remembered).
    r = await client.post(
        "/api/v1/events",
        json={"session_id": "s-10", "event": {"event_id": "v1-e", "t": 1, "type": "click"}},
        headers={"X-User-ID": "u-1"},
    )
    assert r.status_code == 200, r.text
    # Once claimed, it is an ordinary session: another user cannot take it over.
    r = await client.post("/api/v1/session/start", json=start_body("s-10", "u-2"))
    assert r.status_code == 409


async def test_event_errors(client: AppClient) -> None:
    await client.post("/api/v1/session/start", json=start_body("s-7", "u-1"))
    r = await client.post(
        "/api/v1/session/event", json={"session_id": "s-7", "event": {"data": {}}}
    )
    assert r.status_code == 422
    # `data: null` is an empty object, not an error
    r = await client.post(
        "/api/v1/session/event",
        json={"session_id": "s-7", "event": {"t": 5, "type": "system", "data": None}},
    )
    assert r.status_code == 200
    assert (await v1_events(client, "s-7"))[0]["data"] == {}


async def test_session_view_shape(client: AppClient) -> None:
    body = start_body("s-8", "u-9")
    await client.post("/api/v1/session/start", json=body)
    await client.post(
        "/api/v1/session/event",
        json={"session_id": "s-8", "event": {"t": 7, "type": "click", "data": {"text": "hi"}}},
    )
    view = (await client.get("/api/v1/session/s-8?include_events=true")).json()
    assert view["session_id"] == "s-8"
    assert view["user_id"] == "u-9"
    assert view["experiment_id"] == "production_v1"
    assert view["environment"] == environment()
    assert view["status"] == "active"
    events = [(e["t"], e["type"], e["data"]) for e in view["events"]]
    assert events == [(7, "click", {"text": "hi"})]
    assert (await client.get("/api/v1/session/unknown")).status_code == 404


async def test_experiment_assignment_flow(client: AppClient) -> None:
    # The modal saves before the session exists: 404, and the client retries.
    r = await client.post("/api/v1/session/s-9/experiment", json={"experiment_id": "exp-a"})
    assert r.status_code == 404
    assert (await client.get("/api/v1/session/s-9/experiment")).status_code == 404

    await client.post("/api/v1/session/start", json=start_body("s-9", "u-1", "production_v1"))
    # A defined experiment: the session gets the user's arm.
    r = await client.post(
        "/api/v1/experiments",
        json={"id": "exp-a", "name": "A", "variants": [{"name": "control"}, {"name": "treat"}]},
        headers=await staff_headers(client, "researcher"),
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/session/s-9/experiment",
        json={"experiment_id": "exp-a", "model_group": "gpt-4o-mini-search-preview"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["experiment_id"] == "exp-a"
    assert r.json()["variant"] in ("control", "treat")
    got = (await client.get("/api/v1/session/s-9/experiment")).json()
    assert got["experiment_id"] == "exp-a" and got["variant"] == r.json()["variant"]

    # The old backend used PATCH for the same thing.
    r = await client.patch("/api/v1/session/s-9/experiment", json={"experiment_id": "free text"})
    assert r.status_code == 200 and r.json()["variant"] is None

    assigned = [e for e in await v1_events(client, "s-9") if e["type"] == "experiment_assigned"]
    assert [e["data"]["experiment_id"] for e in assigned] == ["exp-a", "free text"]
    assert assigned[0]["data"]["model_group"] == "gpt-4o-mini-search-preview"
    assert assigned[0]["data"]["previous_experiment_id"] == "production_v1"
    r = await client.post("/api/v1/session/s-9/experiment", json={})
    assert r.status_code == 422


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def _text() -> dict[str, str]:
    return {"Content-Type": "text/plain"}
