"""Cross-user access over the whole route table, generated from the app's routes.

A victim participant (token, or key in api_key mode) with a session in a researcher's
experiment, events, a logged model call, a stream and a file; then every route is called with
the victim's ids by callers who must not see or change them: nobody, another participant,
another researcher (and, where client-named ids are trusted, someone naming a user). Each
answer is checked for the victim's data (no leak), compared with the answer for an id that
does not exist (no existence oracle), and the victim's data is compared before and after (no
change). Runs on SQLite and PostgreSQL, in every auth configuration.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from llm_platform.core.config import Settings
from llm_platform.services.users import create_user_with_key
from tests.conftest import AppClient, app_client
from tests.support.query import FAST, parse_sse

SECRETS = (
    "SECRET-TITLE",
    "SECRET-EVENT",
    "SECRET-PROMPT",
    "SECRET-ARM",
    "SECRET-FILE",
    "SECRET-MEMORY",
)

MODES: dict[str, dict[str, Any]] = {
    "default": {"TRUST_CLIENT_USER_ID": False},
    "trusted_ids": {"TRUST_CLIENT_USER_ID": True},
    "api_key": {"AUTH_MODE": "api_key", "TRUST_CLIENT_USER_ID": False},
}

# Routes anyone may call, whose answers hold nobody's data.
PUBLIC = {
    "/api/v1/health",
    "/api/v1/auth/participant",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
}
# Creating an object under a client-chosen id that another user already holds is refused
# (409) where a fresh id is created (201). Key and token holders choose session ids in their
# own namespace (`<user id>:...`), so this tells them nothing; it remains for experiment ids
# (researchers only) and for trusted client-named ids (the original client's opt-in mode).
CREATE_UNDER_CLIENT_ID = {
    ("POST", "/api/v1/experiments"): ("researcher",),
    ("POST", "/api/v1/sessions"): ("named", "naming_victim"),
    ("POST", "/api/v1/session/start"): ("named", "naming_victim"),
    # The original client's events open their session (it posts them before the start).
    ("POST", "/api/v1/session/event"): ("named", "naming_victim"),
    ("POST", "/api/v1/events"): ("named", "naming_victim"),
    ("POST", "/api/v1/query"): ("named", "naming_victim"),
    ("POST", "/api/v1/query/"): ("named", "naming_victim"),
    ("POST", "/api/v1/query/stream"): ("named", "naming_victim"),
    ("POST", "/v1/chat/completions"): ("named", "naming_victim"),
}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class World:
    victim: str
    victim_headers: dict[str, str]
    owner_headers: dict[str, str]  # the researcher running the experiment
    session_id: str = ""
    experiment_id: str = "exp-victim"
    file_id: str = ""
    stream_id: str = ""
    query_id: str = ""
    memory_id: str = ""
    callers: dict[str, dict[str, str]] = field(default_factory=dict)


async def _key(client: AppClient, user_id: str, role: str) -> dict[str, str]:
    db = client.app.state.platform.db
    async with db.write_sessions() as session, session.begin():
        issued = await create_user_with_key(session, user_id, role=role)
    return bearer(issued.key)


async def _participant(client: AppClient, api_key_mode: bool, name: str) -> tuple[str, dict]:
    if api_key_mode:
        return name, await _key(client, name, "participant")
    r = await client.post("/api/v1/auth/participant")
    assert r.status_code == 201, r.text
    return r.json()["user_id"], bearer(r.json()["token"])


async def build_world(client: AppClient, mode: str) -> World:
    api_key_mode = mode == "api_key"
    victim, victim_headers = await _participant(client, api_key_mode, "victim")
    world = World(victim, victim_headers, await _key(client, "researcher-1", "researcher"))
    world.session_id = f"{victim}:s1"  # key and token holders name sessions in their namespace
    r = await client.post(
        "/api/v1/experiments",
        json={
            "id": world.experiment_id,
            "name": "Study",
            "variants": [{"name": "a", "settings": {"system_prompt": "SECRET-ARM prompt"}}],
        },
        headers=world.owner_headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/sessions",
        json={
            "session_id": world.session_id,
            "experiment_id": world.experiment_id,
            "title": "SECRET-TITLE",
        },
        headers=victim_headers,
    )
    assert r.status_code == 201, r.text
    events = [{"event_id": "e-1", "t": 1, "type": "click", "data": {"v": "SECRET-EVENT"}}]
    r = await client.post(
        "/api/v1/events",
        json={"session_id": world.session_id, "events": events},
        headers=victim_headers,
    )
    assert r.status_code == 200, r.text
    query = {
        "query": "SECRET-PROMPT please",
        "session_id": world.session_id,
        "model_provider": "scripted",
        "model_name": "echo",
    }
    r = await client.post("/api/v1/query", json=query, headers=victim_headers)
    assert r.status_code == 200, r.text
    r = await client.post("/api/v1/query/stream", json=query, headers=victim_headers)
    assert r.status_code == 200, r.text
    world.stream_id = r.headers["x-stream-id"]
    world.query_id = r.headers["x-query-id"]
    assert parse_sse(r.text)[-1].get("_done")
    r = await client.post(
        "/api/v1/files/upload",
        files={"file": ("SECRET-FILE.txt", b"SECRET-FILE contents of the victim", "text/plain")},
        headers=victim_headers,
    )
    assert r.status_code == 201, r.text
    world.file_id = r.json()["id"]
    for _ in range(600):  # ingested before the snapshot (its status is the victim's data too)
        r = await client.get(f"/api/v1/files/{world.file_id}", headers=victim_headers)
        if r.json()["status"] in ("ready", "failed"):
            break
        await asyncio.sleep(0.05)
    assert r.json()["status"] == "ready", r.text
    r = await client.post(
        "/api/v1/memories", json={"text": "SECRET-MEMORY: owns a red bike"}, headers=victim_headers
    )
    assert r.status_code == 201, r.text
    world.memory_id = r.json()["id"]

    world.callers["anonymous"] = {}
    _, world.callers["participant"] = await _participant(client, api_key_mode, "intruder")
    world.callers["researcher"] = await _key(client, "researcher-2", "researcher")
    if mode == "trusted_ids":
        world.callers["named"] = {"X-User-ID": "intruder-named"}
        world.callers["naming_victim"] = {"X-User-ID": world.victim}
    return world


async def snapshot(client: AppClient, world: World) -> dict[str, Any]:
    """What the victim and their researcher see of the victim's data."""
    v, o = world.victim_headers, world.owner_headers
    s = world.session_id
    out: dict[str, Any] = {}
    for name, path, headers in [
        ("session", f"/api/v1/sessions/{s}", v),
        ("events", f"/api/v1/sessions/{s}/events", v),
        ("queries", "/api/v1/queries", v),
        ("file", f"/api/v1/files/{world.file_id}", v),
        ("experiment", f"/api/v1/experiments/{world.experiment_id}", o),
        ("memory", f"/api/v1/memories/{world.memory_id}", v),
        ("memories", "/api/v1/memories", v),
        ("memory_settings", "/api/v1/memories/settings", v),
    ]:
        r = await client.get(path, headers=headers)
        assert r.status_code == 200, (name, r.text)
        out[name] = r.json()
    return out


def _missing_user(world: World, missing: str) -> str:
    # The same shape as the victim's id (token participants' ids have a prefix of their own).
    return ("p-" if world.victim.startswith("p-") else "") + missing + "-u"


def _missing_ids(world: World, missing: str) -> dict[str, str]:
    """Ids nobody has, shaped like the victim's (a session id in the victim's namespace)."""
    return {
        "session_id": f"{world.victim}:{missing}",
        "experiment_id": f"{missing}-e",
        "file_id": f"{missing}-f",
        "stream_id": f"{missing}-s",
        "query_id": f"{missing}-q",
        "user_id": _missing_user(world, missing),
        "memory_id": f"{missing}-m",
    }


def _fill(path: str, world: World, missing: str) -> tuple[str, str]:
    """The route's path with the victim's ids, and with ids nobody has."""
    values = {
        "session_id": world.session_id,
        "experiment_id": world.experiment_id,
        "file_id": world.file_id,
        "stream_id": world.stream_id,
        "query_id": world.query_id,
        "user_id": world.victim,
        "memory_id": world.memory_id,
    }
    victim_path, missing_path = path, path
    for name, value in values.items():
        victim_path = victim_path.replace("{" + name + "}", value)
        absent = _missing_ids(world, missing)[name]
        missing_path = missing_path.replace("{" + name + "}", absent)
    for other in ("{path}", "{full_path}", "{rest}"):
        victim_path = victim_path.replace(other, "x")
        missing_path = missing_path.replace(other, "x")
    return victim_path, missing_path


def _body(path: str, ids: dict[str, str]) -> dict[str, Any]:
    s, e, f = ids["session_id"], ids["experiment_id"], ids["file_id"]
    event = {"event_id": "probe-1", "t": 2, "type": "probe", "data": {"x": 1}}
    bodies: dict[str, dict[str, Any]] = {
        "/api/v1/sessions": {"session_id": s, "experiment_id": e, "title": "taken over"},
        "/api/v1/events": {"session_id": s, "events": [event]},
        "/api/v1/session/start": {"session_id": s, "user_id": ids["user_id"], "experiment_id": e},
        "/api/v1/session/end": {"session_id": s},
        "/api/v1/session/event": {"session_id": s, "event": event},
        "/api/v1/rag/search": {"query": "SECRET-FILE contents", "file_ids": [f]},
        "/api/v1/experiments": {"id": e, "name": "mine now", "variants": [{"name": "a"}]},
        "/api/v1/memories": {"text": "planted by an intruder"},
        "/api/v1/memories/{memory_id}": {"text": "taken over"},
        "/api/v1/memories/search": {"query": "SECRET-MEMORY red bike"},
        "/api/v1/memories/settings": {"enabled": False},
        "/v1/chat/completions": {
            "model": "scripted:echo",
            "messages": [{"role": "user", "content": "hi"}],
            "session_id": s,
            "file_ids": [f],
            "use_rag": True,
        },
    }
    if path in bodies:
        return bodies[path]
    return {
        "query": "probe",
        "prompt": "probe",
        "session_id": s,
        "experiment_id": e,
        "file_ids": [f],
        "use_rag": True,
        "model_provider": "scripted",
        "model_name": "echo",
        "title": "renamed by intruder",
    }


def _routes(client: AppClient) -> list[tuple[str, str]]:
    """Every operation of the API, as its OpenAPI document lists them (and /metrics)."""
    out = [("GET", "/metrics")]
    for path, operations in client.app.openapi()["paths"].items():
        for method in operations:
            if method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                out.append((method.upper(), path))
    return out


@dataclass
class Tally:
    requests: int = 0
    server_errors: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    oracles: list[str] = field(default_factory=list)


async def _call(
    client: AppClient, method: str, path: str, headers: dict[str, str], body: dict[str, Any]
) -> tuple[int, str, str]:
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = body
    r = await client.request(method, path, **kwargs, timeout=30)
    text = r.text
    kind = ""
    if r.headers.get("content-type", "").startswith("application/json"):
        try:
            payload = r.json()
            kind = str(payload.get("type", "")) if isinstance(payload, dict) else ""
        except ValueError:
            pass
    return r.status_code, kind, text


@pytest.fixture(params=list(MODES))
async def world_client(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> AsyncIterator[tuple[AppClient, World, str]]:
    mode = request.param
    overrides = {**FAST, **MODES[mode], "RAG_WAIT_FOR_PROCESSING_S": 0, "ENABLE_METRICS": True}
    settings = make_settings(**overrides)
    async with app_client(settings) as client:
        yield client, await build_world(client, mode), mode


async def test_no_route_leaks_changes_or_tells_another_users_data(
    world_client: tuple[AppClient, World, str],
) -> None:
    client, world, mode = world_client
    before = await snapshot(client, world)
    tally = Tally()
    counter = itertools.count()
    routes = _routes(client)
    assert len(routes) > 40  # the whole table, not a sample
    for (method, path), (caller, headers) in itertools.product(routes, world.callers.items()):
        if path in PUBLIC or path.startswith("/assets") or path in ("/", "/{full_path:path}"):
            continue
        missing = f"missing{next(counter)}"
        victim_path, missing_path = _fill(path, world, missing)
        victim_ids = {
            "session_id": world.session_id,
            "experiment_id": world.experiment_id,
            "file_id": world.file_id,
            "user_id": world.victim,
        }
        absent = _missing_ids(world, missing)
        missing_ids = {k: absent[k] for k in victim_ids}
        query = f"?user_id={world.victim}&experiment_id={world.experiment_id}"
        query += f"&session_id={world.session_id}"
        missing_query = f"?user_id={missing_ids['user_id']}&experiment_id={missing}-e"
        missing_query += f"&session_id={missing_ids['session_id']}"
        status, kind, text = await _call(
            client, method, victim_path + query, headers, _body(path, victim_ids)
        )
        m_status, m_kind, _ = await _call(
            client, method, missing_path + missing_query, headers, _body(path, missing_ids)
        )
        tally.requests += 2
        where = f"{caller} {method} {path} -> {status}"
        if status >= 500 or m_status >= 500:
            tally.server_errors.append(f"{where} / missing {m_status}: {text[:200]}")
        if any(secret in text for secret in SECRETS):
            tally.leaks.append(f"{where}: {text[:300]}")
        known = caller in CREATE_UNDER_CLIENT_ID.get((method, path), ())
        if (status, kind) != (m_status, m_kind) and not known:
            tally.oracles.append(f"{where} {kind} / missing {m_status} {m_kind}")
    # Streams started above by callers are theirs; let them finish before comparing.
    await asyncio.sleep(0.2)
    after = await snapshot(client, world)
    print(f"{mode}: {tally.requests} requests, {len(routes)} routes x {len(world.callers)} callers")
    assert not tally.server_errors, tally.server_errors
    assert not tally.leaks, tally.leaks
    assert not tally.oracles, tally.oracles
    assert after == before


async def test_a_participant_never_reads_the_arms_prompt(
    make_settings: Callable[..., Settings],
) -> None:
    """Any participant may join an experiment by its id; what they read back of their own
    calls (query log, old client's history, session export) leaves out the arm's prompt,
    which their researcher still reads."""
    async with app_client(make_settings(**FAST, TRUST_CLIENT_USER_ID=False)) as client:
        owner = await _key(client, "lab", "researcher")
        r = await client.post(
            "/api/v1/experiments",
            json={
                "id": "hidden",
                "name": "H",
                "variants": [{"name": "a", "settings": {"system_prompt": "SECRET-ARM"}}],
            },
            headers=owner,
        )
        assert r.status_code == 201
        user, me = await _participant(client, False, "")
        sid = f"{user}:s-h"
        r = await client.post(
            "/api/v1/sessions", json={"session_id": sid, "experiment_id": "hidden"}, headers=me
        )
        assert r.status_code == 201
        r = await client.post(
            "/api/v1/query",
            json={"query": "hi", "session_id": sid, "model_provider": "scripted"},
            headers=me,
        )
        assert r.status_code == 200, r.text
        await client.app.state.platform.query.log_writer.flush()
        for path in (
            "/api/v1/queries",
            f"/api/v1/query/history/{user}",
            f"/api/v1/sessions/{sid}/export",
            f"/api/v1/sessions/{sid}/export?format=csv",
        ):
            r = await client.get(path, headers=me)
            assert r.status_code == 200, (path, r.text)
            assert "SECRET-ARM" not in r.text, path
            assert "hi" in r.text, path
        r = await client.get("/api/v1/queries?experiment_id=hidden", headers=owner)
        assert r.json()["items"][0]["request"]["system"] == "SECRET-ARM"
        r = await client.get(f"/api/v1/sessions/{sid}/export", headers=owner)
        assert "SECRET-ARM" in r.text
