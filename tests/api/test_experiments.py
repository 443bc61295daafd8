"""Experiments: create/list/get, validation, deterministic variant assignment, export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

from llm_platform.db.models import Query
from llm_platform.services import export as export_service
from tests.conftest import AppClient, staff_headers
from tests.support.errors import assert_error
from tests.support.events import ev


async def lab(client: AppClient) -> dict[str, str]:
    """The researcher "lab", who runs the experiments here."""
    return await staff_headers(client, "researcher", "lab")


EXPERIMENT = {
    "id": "tone",
    "name": "Tone study",
    "description": "Does a friendly system prompt change behaviour?",
    "variants": [
        {
            "name": "friendly",
            "weight": 1,
            "settings": {"system_prompt": "Be warm.", "model": "gpt-4o", "temperature": 0.7},
        },
        {
            "name": "neutral",
            "weight": 3,
            "settings": {"system_prompt": "Be brief.", "provider": "openai", "max_tokens": 200},
        },
    ],
}


async def create(client: AppClient, body: dict = EXPERIMENT) -> dict:
    r = await client.post("/api/v1/experiments", json=body, headers=await lab(client))
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_get_list(client: AppClient) -> None:
    created = await create(client)
    owner = await lab(client)
    assert created["owner_id"] == "lab"
    assert created["variants"][0]["settings"]["system_prompt"] == "Be warm."
    assert created["variants"][1]["weight"] == 3
    got = (await client.get("/api/v1/experiments/tone", headers=owner)).json()
    assert got == created
    second = await create(client, {"name": "Generated id", "variants": [{"name": "only"}]})
    assert len(second["id"]) == 32 and second["variants"][0]["weight"] == 1.0
    listed = (await client.get("/api/v1/experiments", headers=owner)).json()
    assert [e["id"] for e in listed] == [second["id"], "tone"]


async def test_duplicate_id_is_409_and_validation(client: AppClient) -> None:
    await create(client)
    owner = await lab(client)
    r = await client.post("/api/v1/experiments", json=EXPERIMENT, headers=owner)
    assert_error(r, 409, "conflict")
    same_names = {**EXPERIMENT, "id": "t2", "variants": [{"name": "a"}, {"name": "a"}]}
    body = assert_error(
        await client.post("/api/v1/experiments", json=same_names, headers=owner), 422
    )
    assert "unique" in body["detail"]
    zero = {**EXPERIMENT, "id": "t3", "variants": [{"name": "a", "weight": 0}]}
    assert_error(await client.post("/api/v1/experiments", json=zero, headers=owner), 422)
    too_many = {**EXPERIMENT, "id": "t4", "variants": [{"name": f"v{i}"} for i in range(101)]}
    assert_error(await client.post("/api/v1/experiments", json=too_many, headers=owner), 422)
    listed = (await client.get("/api/v1/experiments", headers=owner)).json()
    assert [e["id"] for e in listed] == ["tone"]


async def test_variant_is_assigned_by_user_and_stored(client: AppClient) -> None:
    await create(client)
    variants: dict[str, str] = {}
    for n in range(40):
        user = f"p{n}"
        r = await client.post(
            "/api/v1/sessions",
            json={"session_id": f"s{n}", "user_id": user, "experiment_id": "tone"},
        )
        assert r.status_code == 201
        variants[user] = r.json()["variant"]
        # A second session of the same participant lands in the same arm.
        again = await client.post(
            "/api/v1/sessions",
            json={"session_id": f"s{n}-b", "user_id": user, "experiment_id": "tone"},
        )
        assert again.json()["variant"] == variants[user]
        stored = (await client.get(f"/api/v1/sessions/s{n}")).json()
        assert stored["variant"] == variants[user] and stored["experiment_id"] == "tone"
    assert set(variants.values()) == {"friendly", "neutral"}
    # The researcher running the experiment reads its participants' sessions.
    listed = await client.get(
        "/api/v1/sessions",
        params={"experiment_id": "tone", "limit": 1000},
        headers=await lab(client),
    )
    assert len(listed.json()["items"]) == 80


async def test_session_naming_an_undefined_experiment(client: AppClient) -> None:
    r = await client.post(
        "/api/v1/sessions", json={"session_id": "s", "user_id": "u", "experiment_id": "later"}
    )
    assert r.status_code == 201
    assert r.json()["experiment_id"] == "later" and r.json()["variant"] is None


async def test_experiment_export_streams_jsonl_and_csv(client: AppClient) -> None:
    await create(client)
    for n in range(3):
        body = {"session_id": f"s{n}", "user_id": f"p{n}", "experiment_id": "tone"}
        await client.post("/api/v1/sessions", json=body)
        events = [ev(f"{n}-{i}", note="x" * 100) for i in range(400)]
        r = await client.post("/api/v1/events", json={"session_id": f"s{n}", "events": events})
        assert r.status_code == 200
    await client.post("/api/v1/sessions", json={"session_id": "outside", "user_id": "p0"})
    async with client.app.state.platform.db.write_sessions() as session, session.begin():
        session.add(
            Query(
                user_id="p1",
                session_id="s1",
                experiment_id="tone",
                variant="neutral",
                provider="openai",
                model="gpt-4o",
                input_tokens=3,
                output_tokens=4,
            )
        )

    owner = await lab(client)
    r = await client.get("/api/v1/experiments/tone/export", headers=owner)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert 'filename="experiment-tone.jsonl"' in r.headers["content-disposition"]
    records = [json.loads(line) for line in r.text.splitlines()]
    assert len(records) == 3 + 1200 + 1
    assert {r["session_id"] for r in records} == {"s0", "s1", "s2"}
    assert all(r["variant"] in ("friendly", "neutral") for r in records)

    csv_r = await client.get(
        "/api/v1/experiments/tone/export", params={"format": "csv"}, headers=owner
    )
    assert csv_r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_r.text)))
    assert len(rows) == 1204
    assert json.loads(rows[1]["data"]) == {"note": "x" * 100}


async def test_export_is_streamed_not_built_whole(client: AppClient) -> None:
    """Rows are read with server-side cursors and rendered as they come."""
    await client.post(
        "/api/v1/sessions", json={"session_id": "s", "user_id": "p", "experiment_id": "e"}
    )
    events = [ev(i, note="y" * 200) for i in range(1000)]
    await client.post("/api/v1/events", json={"session_id": "s", "events": events})
    db = client.app.state.platform.db
    consumed = 0

    async def counted() -> AsyncIterator[dict[str, Any]]:
        nonlocal consumed
        async for record in export_service.experiment_export_records(db, "e", None):
            consumed += 1
            yield record

    at_first_chunk = []
    async for _chunk in export_service.render(counted(), export_service.ExportFormat.CSV):
        at_first_chunk.append(consumed)
    assert len(at_first_chunk) > 2
    assert at_first_chunk[0] < consumed == 1001
