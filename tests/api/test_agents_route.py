"""POST /api/v1/agents/route: the coordinator's routing decision for researchers, without
running any agent."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llm_platform.core.config import Settings
from llm_platform.providers.scripted import ScriptedProvider
from tests.conftest import AppClient, app_client, staff_headers
from tests.support.errors import assert_error
from tests.support.intent import json_answer

if TYPE_CHECKING:
    from llm_platform.rag.embeddings import LocalEmbedder

ROUTE = "/api/v1/agents/route"


async def test_access_researchers_and_admins_only(client: AppClient) -> None:
    body = {"message": "remember that I like tea"}
    assert_error(await client.post(ROUTE, json=body), 401, "unauthorized")
    r = await client.post(ROUTE, json=body, headers={"X-User-ID": "participant-1"})
    assert_error(r, 403, "forbidden")
    for role in ("researcher", "admin"):
        r = await client.post(ROUTE, json=body, headers=await staff_headers(client, role))
        assert r.status_code == 200, r.text
        decision = r.json()
        assert decision["intent"] == "memory_remember" and decision["decided_by"] == "rules"
        assert decision["stages"][0]["stage"] == "rules" and decision["total_ms"] >= 0
        assert set(decision) == {"intent", "confidence", "decided_by", "stages", "total_ms"}


async def test_flags_and_no_model_call_without_use_llm(client: AppClient) -> None:
    headers = await staff_headers(client, "researcher")
    r = await client.post(
        ROUTE, json={"message": "what is this?", "has_images": True}, headers=headers
    )
    assert r.status_code == 200 and r.json()["intent"] == "image"
    r = await client.post(
        ROUTE,
        json={"message": "summarise it", "has_files": True, "use_llm": False},
        headers=headers,
    )
    assert r.status_code == 200 and r.json()["intent"] == "document"
    assert [s["stage"] for s in r.json()["stages"]] != [] and all(
        s["stage"] != "llm" for s in r.json()["stages"]
    )


async def test_bad_input(make_settings: Callable[..., Settings]) -> None:
    async with app_client(make_settings(MAX_REQUEST_BODY_MB=0.05)) as client:
        headers = await staff_headers(client, "researcher")
        for body in (
            {},
            {"message": ""},
            {"message": 42},
            {"message": "hi", "has_images": "maybe"},
            {"message": "hi", "extra": 1},
            {"message": "x" * 20_001},
        ):
            r = await client.post(ROUTE, json=body, headers=headers)
            assert r.status_code == 422, (body, r.status_code)
        r = await client.post(ROUTE, content=b"{not json", headers=headers)
        assert r.status_code == 422
        r = await client.post(ROUTE, json={"message": "x" * 100_000}, headers=headers)
        assert_error(r, 413, "payload_too_large")


async def test_the_llm_stage_runs_only_when_both_are_unsure(
    make_settings: Callable[..., Settings], embedder: LocalEmbedder
) -> None:
    settings = make_settings(
        ENABLE_SCRIPTED_PROVIDER=True, INTENT_LLM_ENABLED=True, INTENT_LLM_MODEL="scripted:echo"
    )
    async with app_client(settings) as client:
        headers = await staff_headers(client, "researcher")
        model = client.app.state.platform.providers.get("scripted")
        assert isinstance(model, ScriptedProvider)
        sure = {"message": "please forget my address"}
        r = await client.post(ROUTE, json=sure, headers=headers)
        assert r.json()["decided_by"] == "rules" and not model.calls

        unsure = {"message": "hmm, what about the other one"}
        r = await client.post(ROUTE, json={**unsure, "use_llm": False}, headers=headers)
        assert [s["stage"] for s in r.json()["stages"]] == ["rules", "embedding"]
        assert not model.calls

        model.queue(json_answer('{"intent": "product"}'))
        r = await client.post(ROUTE, json=unsure, headers=headers)
        decision = r.json()
        assert (decision["intent"], decision["decided_by"]) == ("product", "llm")
        assert [s["stage"] for s in decision["stages"]] == ["rules", "embedding", "llm"]
        assert len(model.calls) == 1

        # the echo model's prose is not the schema's JSON: retried once, then the default
        r = await client.post(ROUTE, json=unsure, headers=headers)
        decision = r.json()
        assert r.status_code == 200
        assert (decision["intent"], decision["decided_by"]) == ("chat", "default")
        assert len(model.calls) == 3
