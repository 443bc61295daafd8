"""Who is asking: AUTH_MODE=api_key (bearer keys of participants, researchers, admins) and
AUTH_MODE=open."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from llm_platform.core.config import Settings
from llm_platform.db.models import ApiKey, Query
from llm_platform.db.repositories.users import ApiKeyRepository
from llm_platform.services.users import create_user_with_key
from tests.conftest import AppClient, app_client, staff_headers
from tests.support.errors import assert_error
from tests.support.events import ev


@dataclass
class Keys:
    alice: dict[str, str]  # a researcher (the default role of `users create`)
    bob: dict[str, str]  # a researcher: runs experiment exp-b (seed_bob)
    admin: dict[str, str]
    carol: dict[str, str]  # a participant
    alice_key_id: str


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def keyed(make_settings: Callable[..., Settings]) -> AsyncIterator[tuple[AppClient, Keys]]:
    async with app_client(make_settings(AUTH_MODE="api_key")) as client:
        db = client.app.state.platform.db
        async with db.write_sessions() as session, session.begin():
            alice = await create_user_with_key(session, "alice")
            bob = await create_user_with_key(session, "bob", name="Bob")
            admin = await create_user_with_key(session, "root", role="admin")
            carol = await create_user_with_key(session, "carol", role="participant")
        assert alice.role == bob.role == "researcher" and carol.role == "participant"
        yield (
            client,
            Keys(
                bearer(alice.key),
                bearer(bob.key),
                bearer(admin.key),
                bearer(carol.key),
                alice.key_id,
            ),
        )


async def seed_bob(client: AppClient, keys: Keys) -> None:
    """Bob's session with events, his experiment, and a logged model call of his."""
    r = await client.post(
        "/api/v1/experiments",
        json={"id": "exp-b", "name": "B", "variants": [{"name": "a"}, {"name": "b"}]},
        headers=keys.bob,
    )
    assert r.status_code == 201, r.text
    assert r.json()["owner_id"] == "bob"
    r = await client.post(
        "/api/v1/sessions", json={"session_id": "bob:s", "experiment_id": "exp-b"}, headers=keys.bob
    )
    assert r.status_code == 201 and r.json()["user_id"] == "bob"
    r = await client.post(
        "/api/v1/events", json={"session_id": "bob:s", "events": [ev(1), ev(2)]}, headers=keys.bob
    )
    assert r.status_code == 200
    db = client.app.state.platform.db
    async with db.write_sessions() as session, session.begin():
        session.add(
            Query(
                user_id="bob",
                session_id="bob:s",
                provider="openai",
                model="gpt-4o",
                input_tokens=10,
                output_tokens=5,
                cost_usd=0.0001,
            )
        )


async def test_keys_are_stored_hashed(keyed: tuple[AppClient, Keys]) -> None:
    client, keys = keyed
    plain = keys.alice["Authorization"].removeprefix("Bearer ")
    async with client.app.state.platform.db.read_sessions() as session:
        rows = (await session.scalars(select(ApiKey))).all()
    assert len(rows) == 4
    stored = {r.key_hash for r in rows}
    assert hashlib.sha256(plain.encode()).hexdigest() in stored
    for row in rows:
        assert plain not in (row.key_hash, row.prefix, row.id)
        assert len(row.prefix) < len(plain)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer lp_not-a-real-key"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-User-ID": "alice"},
    ],
    ids=["none", "bad", "empty", "basic", "header-only"],
)
async def test_missing_or_bad_key_is_401(
    keyed: tuple[AppClient, Keys], headers: dict[str, str]
) -> None:
    client, _ = keyed
    for method, url, body in [
        ("GET", "/api/v1/sessions", None),
        ("POST", "/api/v1/sessions", {"user_id": "alice"}),
        ("POST", "/api/v1/events", {"session_id": "s", "event": ev(1)}),
        ("GET", "/api/v1/analytics/tokens", None),
        ("GET", "/api/v1/experiments", None),
        ("GET", "/api/v1/status", None),
    ]:
        r = await client.request(method, url, json=body, headers=headers)
        assert_error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
    # Liveness stays open; status needs a researcher or admin key.
    assert (await client.get("/api/v1/health")).status_code == 200
    status = await client.get("/api/v1/status", headers=await staff_headers(client))
    assert status.json()["auth_mode"] == "api_key"


async def test_revoked_key_is_401(keyed: tuple[AppClient, Keys]) -> None:
    client, keys = keyed
    assert (await client.get("/api/v1/sessions", headers=keys.alice)).status_code == 200
    async with client.app.state.platform.db.write_sessions() as session, session.begin():
        assert await ApiKeyRepository(session).revoke(keys.alice_key_id) == 1
    r = await client.get("/api/v1/sessions", headers=keys.alice)
    assert_error(r, 401, "unauthorized")
    assert (await client.get("/api/v1/sessions", headers=keys.bob)).status_code == 200


async def test_me_names_the_keys_user(keyed: tuple[AppClient, Keys]) -> None:
    """The web app's sign-in form checks a key with this and shows whom it signed in as."""
    client, keys = keyed
    r = await client.get("/api/v1/auth/me", headers=keys.bob)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "auth_mode": "api_key",
        "user_id": "bob",
        "role": "researcher",
        "is_admin": False,
        "is_staff": True,
        "authenticated": True,
        "credential": "key",
        "participant_signup": False,
    }
    admin = (await client.get("/api/v1/auth/me", headers=keys.admin)).json()
    assert admin["user_id"] == "root" and admin["is_admin"] is True
    assert admin["role"] == "admin" and admin["is_staff"] is True
    carol = (await client.get("/api/v1/auth/me", headers=keys.carol)).json()
    assert carol["user_id"] == "carol" and carol["role"] == "participant"
    assert carol["is_admin"] is False and carol["is_staff"] is False
    assert carol["authenticated"] is True and carol["credential"] == "key"
    for headers in ({}, {"Authorization": "Bearer lp_wrong"}, {"X-User-ID": "bob"}):
        assert_error(await client.get("/api/v1/auth/me", headers=headers), 401, "unauthorized")


async def test_a_key_acts_for_its_own_user_only(keyed: tuple[AppClient, Keys]) -> None:
    client, keys = keyed
    r = await client.post("/api/v1/sessions", json={"session_id": "alice:a1"}, headers=keys.alice)
    assert r.status_code == 201 and r.json()["user_id"] == "alice"
    same = await client.post(
        "/api/v1/sessions", json={"session_id": "alice:a2", "user_id": "alice"}, headers=keys.alice
    )
    assert same.status_code == 201
    # Naming someone else, in the body or the header, does not make you them.
    r = await client.post(
        "/api/v1/sessions", json={"session_id": "alice:a3", "user_id": "bob"}, headers=keys.alice
    )
    assert_error(r, 403, "forbidden")
    r = await client.post(
        "/api/v1/sessions",
        json={"session_id": "alice:a4"},
        headers={**keys.alice, "X-User-ID": "bob"},
    )
    assert r.status_code == 201 and r.json()["user_id"] == "alice"
    # Reading another user's data by naming them: a participant is refused ...
    await seed_bob(client, keys)
    r = await client.post(
        "/api/v1/sessions", json={"session_id": "carol:c1", "user_id": "bob"}, headers=keys.carol
    )
    assert_error(r, 403, "forbidden")
    for url in ("/api/v1/sessions", "/api/v1/queries", "/api/v1/analytics/tokens"):
        r = await client.get(url, params={"user_id": "bob"}, headers=keys.carol)
        assert_error(r, 403, "forbidden")
    # ... a researcher sees only what bob did in the researcher's own experiments: nothing here.
    for url in ("/api/v1/sessions", "/api/v1/queries"):
        r = await client.get(url, params={"user_id": "bob"}, headers=keys.alice)
        assert r.status_code == 200, r.text
        assert r.json()["items"] == []
    r = await client.get("/api/v1/analytics/tokens", params={"user_id": "bob"}, headers=keys.alice)
    assert r.status_code == 200 and r.json()["totals"]["queries"] == 0


async def test_a_participant_key_may_not_run_experiments(keyed: tuple[AppClient, Keys]) -> None:
    client, keys = keyed
    r = await client.post(
        "/api/v1/experiments",
        json={"id": "exp-c", "name": "C", "variants": [{"name": "a"}]},
        headers=keys.carol,
    )
    assert_error(r, 403, "forbidden")
    assert_error(await client.get("/api/v1/experiments", headers=keys.carol), 403, "forbidden")
    r = await client.get("/api/v1/experiments/exp-c", headers=keys.admin)
    assert_error(r, 404, "not_found")  # nothing was created
    # The participant's own data is theirs to read and write.
    r = await client.post("/api/v1/sessions", json={"session_id": "carol:s"}, headers=keys.carol)
    assert r.status_code == 201 and r.json()["user_id"] == "carol"
    mine = (await client.get("/api/v1/sessions", headers=keys.carol)).json()["items"]
    assert [s["session_id"] for s in mine] == ["carol:s"]


async def test_other_users_objects_answer_404(keyed: tuple[AppClient, Keys]) -> None:
    client, keys = keyed
    await seed_bob(client, keys)
    for method, url, body in [
        ("GET", "/api/v1/sessions/bob:s", None),
        ("GET", "/api/v1/sessions/bob:s?include_events=true", None),
        ("GET", "/api/v1/sessions/bob:s/events", None),
        ("GET", "/api/v1/sessions/bob:s/export", None),
        ("POST", "/api/v1/sessions/bob:s/end", None),
        ("POST", "/api/v1/events", {"session_id": "bob:s", "events": [ev(9)]}),
        ("GET", "/api/v1/experiments/exp-b", None),
        ("GET", "/api/v1/experiments/exp-b/export", None),
    ]:
        theirs = await client.request(method, url, json=body, headers=keys.alice)
        missing = await client.request(
            method,
            url.replace("bob:s", "bob:nobody").replace("exp-b", "exp-none"),
            json={**body, "session_id": "bob:nobody"} if body else None,
            headers=keys.alice,
        )
        # Exactly like a missing object: same status, type and message (posting events under
        # another user's session id is refused for the id's namespace alone: 400).
        status, kind = (400, "bad_request") if url == "/api/v1/events" else (404, "not_found")
        assert_error(theirs, status, kind)
        assert_error(missing, status, kind)
        assert theirs.json()["detail"] == missing.json()["detail"], url
    # Nothing was written through those attempts.
    r = await client.get("/api/v1/sessions/bob:s", headers=keys.bob)
    assert r.json()["event_count"] == 2 and r.json()["ended_at"] is None
    # Listings only show one's own.
    assert (await client.get("/api/v1/sessions", headers=keys.alice)).json()["items"] == []
    assert (await client.get("/api/v1/experiments", headers=keys.alice)).json() == []
    assert (await client.get("/api/v1/queries", headers=keys.alice)).json()["items"] == []
    filtered = await client.get(
        "/api/v1/queries", params={"session_id": "bob:s"}, headers=keys.alice
    )
    assert filtered.json()["items"] == []
    tokens = (await client.get("/api/v1/analytics/tokens", headers=keys.alice)).json()
    assert tokens["totals"]["queries"] == 0


async def test_owner_reads_own_data(keyed: tuple[AppClient, Keys]) -> None:
    client, keys = keyed
    await seed_bob(client, keys)
    assert (await client.get("/api/v1/sessions/bob:s", headers=keys.bob)).status_code == 200
    own = await client.get("/api/v1/sessions", params={"user_id": "bob"}, headers=keys.bob)
    assert [s["session_id"] for s in own.json()["items"]] == ["bob:s"]
    export = await client.get("/api/v1/experiments/exp-b/export", headers=keys.bob)
    assert export.status_code == 200
    kinds = [line.split('"kind":"')[1].split('"')[0] for line in export.text.splitlines()]
    assert kinds == ["session", "event", "event", "query"]
    tokens = (await client.get("/api/v1/analytics/tokens", headers=keys.bob)).json()
    assert tokens["totals"]["queries"] == 1


async def test_admin_reads_everyones_data(keyed: tuple[AppClient, Keys]) -> None:
    client, keys = keyed
    await seed_bob(client, keys)
    await client.post("/api/v1/sessions", json={"session_id": "alice:s"}, headers=keys.alice)
    admin = keys.admin
    assert (await client.get("/api/v1/sessions/bob:s", headers=admin)).json()["user_id"] == "bob"
    events = (await client.get("/api/v1/sessions/bob:s/events", headers=admin)).json()
    assert len(events["items"]) == 2
    listed = (await client.get("/api/v1/sessions", headers=admin)).json()["items"]
    assert {s["session_id"] for s in listed} == {"bob:s", "alice:s"}
    only_bob = await client.get("/api/v1/sessions", params={"user_id": "bob"}, headers=admin)
    assert [s["session_id"] for s in only_bob.json()["items"]] == ["bob:s"]
    queries = await client.get("/api/v1/queries", params={"user_id": "bob"}, headers=admin)
    assert len(queries.json()["items"]) == 1
    tokens = (await client.get("/api/v1/analytics/tokens", headers=admin)).json()
    assert tokens["totals"]["queries"] == 1
    assert (await client.get("/api/v1/experiments/exp-b", headers=admin)).status_code == 200
    export = await client.get("/api/v1/experiments/exp-b/export", headers=admin)
    assert export.status_code == 200 and len(export.text.splitlines()) == 4
    session_export = await client.get("/api/v1/sessions/bob:s/export", headers=admin)
    assert session_export.status_code == 200
    assert [e["id"] for e in (await client.get("/api/v1/experiments", headers=admin)).json()] == [
        "exp-b"
    ]
    # An admin may act for another user (e.g. to set up a participant's session).
    r = await client.post(
        "/api/v1/sessions", json={"session_id": "for-bob", "user_id": "bob"}, headers=admin
    )
    assert r.status_code == 201 and r.json()["user_id"] == "bob"


async def test_taken_session_id_is_a_conflict_not_a_takeover(keyed: tuple[AppClient, Keys]) -> None:
    """A key holder's session ids are theirs (`<user>:...`): another user's id is refused
    for its shape alone, whether it exists or not, and nothing is taken over."""
    client, keys = keyed
    await seed_bob(client, keys)
    for sid in ("bob:s", "bob:never-made"):
        r = await client.post("/api/v1/sessions", json={"session_id": sid}, headers=keys.alice)
        body = assert_error(r, 400, "bad_request")
        assert "alice:" in body["detail"]
    owner = (await client.get("/api/v1/sessions/bob:s", headers=keys.bob)).json()
    assert owner["user_id"] == "bob"
    # Without an id the server picks one in the caller's namespace; a repeat of one's own
    # id is the same session again.
    r = await client.post("/api/v1/sessions", json={}, headers=keys.alice)
    assert r.status_code == 201 and r.json()["session_id"].startswith("alice:")
    again = await client.post(
        "/api/v1/sessions", json={"session_id": r.json()["session_id"]}, headers=keys.alice
    )
    assert again.status_code == 200 and again.json()["status"] == "exists"


# ---------------------------------------------------------------- open mode


async def test_open_mode_scopes_by_x_user_id(client: AppClient) -> None:
    for user in ("alice", "bob"):
        r = await client.post("/api/v1/sessions", json={"session_id": f"{user}-s", "user_id": user})
        assert r.status_code == 201
    alice = {"X-User-ID": "alice"}
    assert (await client.get("/api/v1/sessions/alice-s", headers=alice)).status_code == 200
    assert_error(await client.get("/api/v1/sessions/bob-s", headers=alice), 404, "not_found")
    r = await client.post(
        "/api/v1/events", json={"session_id": "bob-s", "event": ev(1)}, headers=alice
    )
    assert_error(r, 404, "not_found")
    mine = (await client.get("/api/v1/sessions", headers=alice)).json()["items"]
    assert [s["session_id"] for s in mine] == ["alice-s"]
    # The header and the body must agree.
    r = await client.post("/api/v1/sessions", json={"user_id": "bob"}, headers=alice)
    assert_error(r, 400, "bad_request")
    # The header alone names the user.
    r = await client.post("/api/v1/sessions", json={"session_id": "h"}, headers=alice)
    assert r.status_code == 201 and r.json()["user_id"] == "alice"
    # Without a header or a user id the client must say who it is ...
    assert_error(await client.post("/api/v1/sessions", json={}), 401, "unauthorized")
    # ... and nobody reads anything: everyone's data is for researchers and admins.
    assert_error(await client.get("/api/v1/sessions"), 401, "unauthorized")
    admin = await staff_headers(client)
    everyone = (await client.get("/api/v1/sessions", headers=admin)).json()["items"]
    assert {s["session_id"] for s in everyone} == {"alice-s", "bob-s", "h"}


async def test_me_in_open_mode(client: AppClient) -> None:
    r = await client.get("/api/v1/auth/me", headers={"X-User-ID": "alice"})
    assert r.json() == {
        "auth_mode": "open",
        "user_id": "alice",
        "role": "participant",
        "is_admin": False,
        "is_staff": False,
        "authenticated": False,
        "credential": "claimed",
        "participant_signup": True,
    }
    nobody = (await client.get("/api/v1/auth/me")).json()
    assert nobody["user_id"] is None and nobody["role"] is None
    assert nobody["is_staff"] is False and nobody["credential"] == "none"
