"""Helpers for study tests: a study definition, an app with the scripted model, a
participant walking through the flow."""

from __future__ import annotations

import copy
from typing import Any

from tests.conftest import AppClient, staff_headers

ITEMS_PRE = [
    {"id": "trust1", "kind": "likert", "prompt": "I trust AI.", "scale": {"min": 1, "max": 7}},
    {"id": "age", "kind": "number", "prompt": "Age?", "min": 18, "max": 120},
    {
        "id": "colour",
        "kind": "single",
        "prompt": "Pick blue",
        "options": ["red", "blue"],
        "attention_check": {"expected": "blue"},
    },
]
ITEMS_POST = [
    {"id": "tools", "kind": "multiple", "prompt": "Used?", "options": ["a", "b", "c"]},
    {
        "id": "comment",
        "kind": "text",
        "prompt": "Anything else?",
        "required": False,
        "max_length": 500,
    },
]


def definition(study_id: str = "trust", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": study_id,
        "name": "Trust study",
        "consent_markdown": "# Consent\nYou agree.",
        "instructions_markdown": "Ask about anything.",
        "arms": [
            {
                "name": "warm",
                "provider": "scripted",
                "model": "instant",
                "system_prompt": "Be warm.",
            },
            {
                "name": "cold",
                "provider": "scripted",
                "model": "instant",
                "system_prompt": "Be cold.",
            },
            {"name": "plain", "provider": "scripted", "model": "instant"},
        ],
        "pre_questionnaire": copy.deepcopy(ITEMS_PRE),
        "post_questionnaire": copy.deepcopy(ITEMS_POST),
        "completion": {
            "min_turns": 2,
            "min_minutes": 0,
            "code": "C1A2B3",
            "redirect_url": "https://app.prolific.com/submissions/complete?cc=C1A2B3",
        },
        "assignment_seed": 42,
    }
    body.update(overrides)
    return body


async def lab(client: AppClient) -> dict[str, str]:
    return await staff_headers(client, "researcher", "lab")


async def create_study(
    client: AppClient, body: dict[str, Any] | None = None, open_it: bool = True
) -> dict[str, Any]:
    body = body or definition()
    r = await client.post("/api/v1/studies", json=body, headers=await lab(client))
    assert r.status_code == 201, r.text
    if open_it:
        r = await client.post(f"/api/v1/studies/{body['id']}/open", headers=await lab(client))
        assert r.status_code == 200, r.text
    return dict(r.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def enter(
    client: AppClient, study: str, pid: str | None, token: str | None = None, **params: str
) -> Any:
    body = {"params": {**({"PROLIFIC_PID": pid} if pid is not None else {}), **params}}
    return await client.post(
        f"/api/v1/studies/{study}/enter", json=body, headers=bearer(token) if token else {}
    )


GOOD_PRE = {"trust1": 5, "age": 30, "colour": "blue"}
GOOD_POST = {"tools": ["a", "c"], "comment": "fine"}


async def chat(client: AppClient, token: str, session_id: str, text: str = "hello") -> Any:
    r = await client.post(
        "/api/v1/query",
        json={"query": text, "session_id": session_id},
        headers=bearer(token),
    )
    assert r.status_code == 200, r.text
    return r.json()


async def walk(
    client: AppClient, study: str, pid: str, *, turns: int = 2, pre: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """A participant from the link to completion; returns (token, final state)."""
    r = await enter(client, study, pid, STUDY_ID="s1", SESSION_ID="x1")
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    auth = bearer(token)
    r = await client.post(f"/api/v1/studies/{study}/consent", json={"agree": True}, headers=auth)
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/studies/{study}/answers",
        json={"phase": "pre", "answers": pre or GOOD_PRE},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    state = r.json()
    for n in range(turns):
        await chat(client, token, state["session_id"], f"question {n}")
    r = await client.post(
        f"/api/v1/studies/{study}/answers",
        json={"phase": "post", "answers": GOOD_POST},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/v1/studies/{study}/complete", headers=auth)
    assert r.status_code == 200, r.text
    return token, r.json()
