from __future__ import annotations

import dataclasses
from collections.abc import Callable

from llm_platform.core.config import Settings
from llm_platform.rag.lifecycle import RagDisabled
from tests.conftest import AppClient, app_client
from tests.support.errors import assert_error

ALICE = {"X-User-ID": "alice"}
BOB = {"X-User-ID": "bob"}


async def _add(client: AppClient, text: str, headers: dict[str, str] = ALICE, **body: str) -> dict:
    r = await client.post("/api/v1/memories", json={"text": text, **body}, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_create_read_edit_delete(client: AppClient) -> None:
    made = await _add(client, "  Lives in Lyon  ", kind="fact")
    assert made["text"] == "Lives in Lyon" and made["kind"] == "fact"
    assert made["history"] == [] and len(made["id"]) == 32
    assert made["source_session_id"] is None and made["source_time"] is None
    r = await client.get(f"/api/v1/memories/{made['id']}", headers=ALICE)
    assert r.status_code == 200 and r.json() == made

    r = await client.patch(
        f"/api/v1/memories/{made['id']}", json={"text": "Lives in Paris"}, headers=ALICE
    )
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["id"] == made["id"] and edited["text"] == "Lives in Paris"
    assert [h["text"] for h in edited["history"]] == ["Lives in Lyon"]
    assert edited["history"][0]["reason"] == "edited by the user"
    r = await client.patch(
        f"/api/v1/memories/{made['id']}", json={"kind": "preference"}, headers=ALICE
    )
    assert r.json()["kind"] == "preference" and len(r.json()["history"]) == 1
    r = await client.patch(
        f"/api/v1/memories/{made['id']}", json={"text": "Lives in Paris"}, headers=ALICE
    )
    assert r.json()["history"] == edited["history"]  # unchanged text: no history entry

    r = await client.delete(f"/api/v1/memories/{made['id']}", headers=ALICE)
    assert r.status_code == 204
    assert_error(await client.get(f"/api/v1/memories/{made['id']}", headers=ALICE), 404)
    assert_error(await client.delete(f"/api/v1/memories/{made['id']}", headers=ALICE), 404)


async def test_cursor_pages_newest_first(client: AppClient) -> None:
    made = [(await _add(client, f"Fact number {i}"))["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = await client.get("/api/v1/memories", params=params, headers=ALICE)
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [m["id"] for m in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == list(reversed(made))
    assert_error(await client.get("/api/v1/memories?cursor=bm90LWEtY3Vyc29y", headers=ALICE), 400)


async def test_search_by_meaning(client: AppClient) -> None:
    for text in (
        "Lives in Lyon, France",
        "Has a golden retriever called Rex",
        "Prefers vegetarian food",
        "Works as a nurse at night",
    ):
        await _add(client, text)
    await _add(client, "Owns three cats", headers=BOB)
    r = await client.post(
        "/api/v1/memories/search", json={"query": "what pet do I have?", "limit": 2}, headers=ALICE
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 2
    assert items[0]["text"] == "Has a golden retriever called Rex"
    assert items[0]["score"] >= items[1]["score"]
    r = await client.post(
        "/api/v1/memories/search", json={"query": "which city is my home"}, headers=ALICE
    )
    texts = [m["text"] for m in r.json()["items"]]
    assert texts[0] == "Lives in Lyon, France" and "Owns three cats" not in texts
    assert_error(
        await client.post(
            "/api/v1/memories/search", json={"query": "x", "limit": 51}, headers=ALICE
        ),
        422,
    )


async def test_search_falls_back_to_keywords_without_rag(client: AppClient) -> None:
    await _add(client, "Has a golden retriever called Rex")
    await _add(client, "Prefers vegetarian food")
    state = client.app.state.platform
    client.app.state.platform = dataclasses.replace(state, rag=RagDisabled("test"))
    try:
        made = await _add(client, "Plays the cello on Sundays")
        r = await client.post(
            "/api/v1/memories/search", json={"query": "Is my retriever Rex?"}, headers=ALICE
        )
        assert [m["text"] for m in r.json()["items"]] == ["Has a golden retriever called Rex"]
    finally:
        client.app.state.platform = state
    # Written without an embedder: searched by meaning once it is back (embedded then).
    r = await client.post(
        "/api/v1/memories/search",
        json={"query": "musical instrument", "limit": 1},
        headers=ALICE,
    )
    assert r.json()["items"][0]["id"] == made["id"]


async def test_other_users_memories_are_not_found(client: AppClient) -> None:
    mine = await _add(client, "Allergic to peanuts", headers=BOB)
    url = f"/api/v1/memories/{mine['id']}"
    assert_error(await client.get(url, headers=ALICE), 404)
    assert_error(await client.patch(url, json={"text": "hacked"}, headers=ALICE), 404)
    assert_error(await client.delete(url, headers=ALICE), 404)
    assert_error(await client.get("/api/v1/memories/no-such-id", headers=ALICE), 404)
    listed = (await client.get("/api/v1/memories", headers=ALICE)).json()
    assert listed["items"] == []
    found = await client.post("/api/v1/memories/search", json={"query": "peanuts"}, headers=ALICE)
    assert found.json()["items"] == []
    still = await client.get(url, headers=BOB)
    assert still.json()["text"] == "Allergic to peanuts"


async def test_bad_and_oversize_input(make_settings: Callable[..., Settings]) -> None:
    async with app_client(make_settings(MAX_REQUEST_BODY_MB=0.05)) as client:
        assert_error(
            await client.post("/api/v1/memories", json={"text": "x" * 1001}, headers=ALICE), 422
        )
        for body in ({"text": "   "}, {"text": "a\x00b"}, {"text": "ok", "kind": "secret"}, {}):
            r = await client.post("/api/v1/memories", json=body, headers=ALICE)
            assert_error(r, 422)
        made = await _add(client, "x" * 1000)
        r = await client.patch(
            f"/api/v1/memories/{made['id']}", json={"text": "y" * 1001}, headers=ALICE
        )
        assert_error(r, 422)
        r = await client.post("/api/v1/memories", json={"text": "z" * 80_000}, headers=ALICE)
        assert_error(r, 413, "payload_too_large")
        assert_error(await client.get("/api/v1/memories"), 401)


async def test_settings_on_and_off_per_user(client: AppClient) -> None:
    r = await client.get("/api/v1/memories/settings", headers=ALICE)
    assert r.status_code == 200 and r.json() == {"enabled": True}
    r = await client.put("/api/v1/memories/settings", json={"enabled": False}, headers=ALICE)
    assert r.status_code == 200 and r.json() == {"enabled": False}
    assert (await client.get("/api/v1/memories/settings", headers=ALICE)).json() == {
        "enabled": False
    }
    assert (await client.get("/api/v1/memories/settings", headers=BOB)).json() == {"enabled": True}
    r = await client.put("/api/v1/memories/settings", json={"enabled": True}, headers=ALICE)
    assert r.json() == {"enabled": True}
    assert_error(
        await client.put("/api/v1/memories/settings", json={"enabled": "maybe"}, headers=ALICE),
        422,
    )
