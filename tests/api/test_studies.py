"""Studies: definitions and versions, the participant flow, resume, completion, bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import yaml

from llm_platform.core.config import Settings
from tests.conftest import AppClient, staff_headers
from tests.support.query import query_client, scripted
from tests.support.studies import (
    GOOD_POST,
    GOOD_PRE,
    bearer,
    chat,
    create_study,
    definition,
    enter,
    lab,
    walk,
)


@pytest.fixture
async def client(make_settings: Callable[..., Settings]) -> AsyncIterator[AppClient]:
    async with query_client(make_settings) as c:
        yield c


async def _arm_of(client: AppClient, token: str) -> str:
    from llm_platform.db.repositories.studies import ParticipantRepository

    state = client.app.state.platform
    user_id = state.tokens.verify(token)
    async with state.db.read_sessions() as s:
        p = await ParticipantRepository(s).by_user(user_id)
    assert p is not None
    return p.arm


async def test_definition_crud_versions_and_files(client: AppClient) -> None:
    owner = await lab(client)
    created = await create_study(client, open_it=False)
    assert created["state"] == "draft" and created["version"] == 1
    assert created["participant_link"] == "/s/trust"
    # Not open yet: nobody enters.
    r = await enter(client, "trust", "A1")
    assert r.status_code == 409 and r.json()["type"] == "study_closed"
    # Edits without participants stay version 1.
    body = definition(name="Trust study v1b")
    r = await client.put("/api/v1/studies/trust", json=body, headers=owner)
    assert r.status_code == 200 and r.json()["version"] == 1
    await client.post("/api/v1/studies/trust/open", headers=owner)
    r = await enter(client, "trust", "A1")
    first = r.json()
    assert first["participant"]["version"] == 1
    # Now a change makes version 2; the first participant stays on version 1.
    body = definition(name="Trust study v2", consent_markdown="New consent")
    r = await client.put("/api/v1/studies/trust", json=body, headers=owner)
    assert r.json()["version"] == 2
    r = await enter(client, "trust", "A2")
    assert r.json()["participant"]["version"] == 2
    assert r.json()["participant"]["consent_markdown"] == "New consent"
    r = await client.get("/api/v1/studies/trust/me", headers=bearer(first["token"]))
    assert r.json()["version"] == 1 and r.json()["consent_markdown"] != "New consent"
    # The same definition again: no new version.
    r = await client.put("/api/v1/studies/trust", json=body, headers=owner)
    assert r.json()["version"] == 2

    # YAML out, YAML in (same study: a no-op), JSON in as a new study.
    r = await client.get("/api/v1/studies/trust/definition?format=yaml", headers=owner)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/yaml")
    loaded = yaml.safe_load(r.text)
    assert loaded["name"] == "Trust study v2"
    r = await client.post(
        "/api/v1/studies/import",
        content=r.content,
        headers={**owner, "content-type": "application/yaml"},
    )
    assert r.status_code == 201 and r.json()["version"] == 2, r.text
    loaded["id"] = "trust-copy"
    r = await client.post("/api/v1/studies/import", json=loaded, headers=owner)
    assert r.status_code == 201 and r.json()["id"] == "trust-copy"
    assert r.json()["definition"] == {**loaded}
    r = await client.post(
        "/api/v1/studies/import",
        content=b"- [not a study",
        headers={**owner, "content-type": "application/yaml"},
    )
    assert r.status_code == 422
    r = await client.post(
        "/api/v1/studies/import",
        content=b"arms: []\nid: x\nname: y\n",
        headers={**owner, "content-type": "application/yaml"},
    )
    assert r.status_code == 422 and "arms" in r.json()["detail"]

    # Another researcher sees nothing; participants cannot manage studies.
    other = await staff_headers(client, "researcher", "other-lab")
    assert (await client.get("/api/v1/studies/trust", headers=other)).status_code == 404
    assert (await client.get("/api/v1/studies", headers=other)).json() == []
    r = await client.get("/api/v1/studies/trust", headers=bearer(first["token"]))
    assert r.status_code == 403
    # Bad definitions: duplicate arms, options on a likert, unknown field.
    for bad in (
        definition("b1", arms=[{"name": "a"}, {"name": "a"}]),
        definition(
            "b2", pre_questionnaire=[{"id": "q", "kind": "likert", "prompt": "x", "options": ["a"]}]
        ),
        {**definition("b3"), "surprise": 1},
        definition("bad:id"),
    ):
        r = await client.post("/api/v1/studies", json=bad, headers=owner)
        assert r.status_code == 422, bad
    assert (
        await client.post("/api/v1/studies", json=definition(), headers=owner)
    ).status_code == 409


async def test_participant_flow_to_completion(client: AppClient) -> None:
    await create_study(client)
    provider = scripted(client)
    r = await enter(client, "trust", "PID-1", STUDY_ID="s1", SESSION_ID="x1")
    assert r.status_code == 200, r.text
    body = r.json()
    token, state = body["token"], body["participant"]
    assert token.startswith("pt_")
    assert state["status"] == "entered" and state["arm_label"] == "Task"
    assert state["session_id"] is None and state["completion_code"] is None
    assert "attention_check" not in state["pre_questionnaire"][2]
    auth = bearer(token)

    # Out of order: answers before consent, completion before anything.
    r = await client.post(
        "/api/v1/studies/trust/answers", json={"phase": "pre", "answers": GOOD_PRE}, headers=auth
    )
    assert r.status_code == 409 and r.json()["type"] == "wrong_step"
    r = await client.post("/api/v1/studies/trust/complete", headers=auth)
    assert r.status_code == 409
    r = await client.post("/api/v1/studies/trust/consent", json={"agree": True}, headers=auth)
    assert r.json()["status"] == "consented"
    r = await client.post("/api/v1/studies/trust/consent", json={"agree": False}, headers=auth)
    assert r.status_code == 409 and r.json()["type"] == "consent_recorded"

    # Per-item validation errors, all at once.
    bad = {"trust1": 9, "age": "old", "colour": "green", "nope": 1}
    r = await client.post(
        "/api/v1/studies/trust/answers", json={"phase": "pre", "answers": bad}, headers=auth
    )
    assert r.status_code == 422 and r.json()["type"] == "invalid_answers"
    items = {e["item"] for e in r.json()["errors"]}
    assert items == {"trust1", "age", "colour", "nope"}
    r = await client.post(
        "/api/v1/studies/trust/answers",
        json={"phase": "pre", "answers": {"trust1": 3}},
        headers=auth,
    )
    assert {e["item"] for e in r.json()["errors"]} == {"age", "colour"}
    r = await client.post(
        "/api/v1/studies/trust/answers",
        json={"phase": "pre", "answers": {**GOOD_PRE, "colour": "red"}},
        headers=auth,
    )
    state = r.json()
    assert r.status_code == 200 and state["status"] == "task"
    assert state["session_id"] and state["progress"] == {
        "turns": 0,
        "min_turns": 2,
        "minutes": state["progress"]["minutes"],
        "min_minutes": 0.0,
        "met": False,
    }

    # The chat runs under the arm's settings.
    arm = await _arm_of(client, token)
    await chat(client, token, state["session_id"])
    system = provider.last.request.system
    assert system == {"warm": "Be warm.", "cold": "Be cold."}.get(arm, system)
    r = await client.post("/api/v1/studies/trust/complete", headers=auth)
    assert r.status_code == 409 and r.json()["type"] == "rule_not_met"
    r = await client.post(
        "/api/v1/studies/trust/answers", json={"phase": "post", "answers": GOOD_POST}, headers=auth
    )
    assert r.status_code == 409 and r.json()["type"] == "rule_not_met"
    await chat(client, token, state["session_id"])
    r = await client.get("/api/v1/studies/trust/me", headers=auth)
    assert r.json()["progress"]["turns"] == 2 and r.json()["progress"]["met"] is True
    r = await client.post("/api/v1/studies/trust/complete", headers=auth)
    assert r.status_code == 409 and r.json()["type"] == "post_questionnaire_missing"
    r = await client.post(
        "/api/v1/studies/trust/answers", json={"phase": "post", "answers": GOOD_POST}, headers=auth
    )
    assert r.json()["status"] == "post_done"
    r = await client.post("/api/v1/studies/trust/complete", headers=auth)
    done = r.json()
    assert done["status"] == "completed" and done["completion_code"] == "C1A2B3"
    assert done["redirect_url"].endswith("cc=C1A2B3")
    # A replay: the same code, nothing new.
    again = (await client.post("/api/v1/studies/trust/complete", headers=auth)).json()
    assert again["completion_code"] == "C1A2B3"
    r = await client.post(
        "/api/v1/studies/trust/answers", json={"phase": "post", "answers": GOOD_POST}, headers=auth
    )
    assert r.status_code == 409 and r.json()["type"] == "already_answered"

    # The researcher's view: one started, consented, completed, one attention failure.
    r = await client.get("/api/v1/studies/trust/progress", headers=await lab(client))
    prog = r.json()
    assert prog["totals"]["started"] == 1 and prog["totals"]["completed"] == 1
    assert prog["totals"]["attention_failures"] == 1 and prog["totals"]["turns"] == 2
    row = next(a for a in prog["arms"] if a["arm"] == arm)
    assert row["completed"] == 1 and row["median_minutes_on_task"] is not None
    rows = (
        await client.get("/api/v1/studies/trust/participants", headers=await lab(client))
    ).json()
    assert len(rows) == 1 and rows[0]["turns"] == 2 and rows[0]["pseudonym"].startswith("P")
    assert "PID-1" not in str(rows)


async def test_resume_and_two_links(client: AppClient) -> None:
    await create_study(client)
    first = (await enter(client, "trust", "R1")).json()
    token = first["token"]
    arm = await _arm_of(client, token)
    # Reload / second tab: the token resumes; a new browser: the recruitment id resumes.
    again = (await enter(client, "trust", "R1", token=token)).json()
    assert await _arm_of(client, again["token"]) == arm
    fresh = (await enter(client, "trust", "R1")).json()
    assert client.app.state.platform.tokens.verify(
        fresh["token"]
    ) == client.app.state.platform.tokens.verify(token)
    # No recruitment id in the reload: the token alone resumes.
    r = await enter(client, "trust", None, token=token)
    assert r.status_code == 200
    # The token of R1 with the link of R2: refused, nothing assigned.
    r = await enter(client, "trust", "R2", token=token)
    assert r.status_code == 409 and r.json()["type"] == "recruitment_mismatch"
    prog = (await client.get("/api/v1/studies/trust/progress", headers=await lab(client))).json()
    assert prog["totals"]["started"] == 1
    # A second study: the same browser token is a different participant there.
    await create_study(client, definition("other"))
    r = await enter(client, "other", "R1", token=token)
    assert r.status_code == 200
    assert r.json()["token"] != token
    r = await client.get("/api/v1/studies/other/me", headers=bearer(token))
    assert r.status_code == 404 and r.json()["type"] == "not_participant"
    # A study that allows no token-less resume.
    await create_study(client, definition("strict", resume_by_recruitment_id=False))
    strict = (await enter(client, "strict", "S1")).json()
    r = await enter(client, "strict", "S1")
    assert r.status_code == 409 and r.json()["type"] == "resume_needs_token"
    assert (await enter(client, "strict", "S1", token=strict["token"])).status_code == 200
    # A completed participant gets no code from the recruitment id alone.
    await walk(client, "trust", "DONE")
    r = await enter(client, "trust", "DONE")
    assert r.status_code == 409 and r.json()["type"] == "already_completed"


async def test_bad_input(client: AppClient) -> None:
    await create_study(client)
    # Unknown study, tampered token, a staff-less participant call.
    r = await enter(client, "nope", "A")
    assert r.status_code == 404 and r.json()["type"] == "not_found"
    good = (await enter(client, "trust", "A")).json()["token"]
    r = await enter(client, "trust", "A", token=good[:-3] + "xyz")
    assert r.status_code == 401 and r.json()["type"] == "unauthorized"
    r = await client.get("/api/v1/studies/trust/me", headers=bearer(good + "x"))
    assert r.status_code == 401
    r = await client.get("/api/v1/studies/trust/me")
    assert r.status_code == 401
    # Odd recruitment ids: unicode, SQL, HTML are data; 10 kB, control characters are 422.
    for odd in ("Ünïcødé-👩‍🔬", "x'); DROP TABLE studies;--", "<script>alert(1)</script>"):
        r = await enter(client, "trust", odd)
        assert r.status_code == 200, (odd, r.text)
        again = await enter(client, "trust", odd)
        assert again.json()["token"] == r.json()["token"]
    for odd in ("x" * 10_000, "a\x00b", "a\nb"):
        r = await enter(client, "trust", odd)
        assert r.status_code == 422, odd
        assert set(r.json()) >= {"detail", "type", "request_id"}
    r = await client.post("/api/v1/studies/trust/enter", json={"params": {"PROLIFIC_PID": 5}})
    assert r.status_code == 422
    r = await client.post("/api/v1/studies/trust/enter", content=b"{not json")
    assert r.status_code == 422
    rows = (
        await client.get("/api/v1/studies/trust/participants", headers=await lab(client))
    ).json()
    assert len(rows) == 4
    # Answers of the wrong shape.
    auth = bearer(good)
    await client.post("/api/v1/studies/trust/consent", json={"agree": True}, headers=auth)
    r = await client.post(
        "/api/v1/studies/trust/answers", json={"phase": "during", "answers": {}}, headers=auth
    )
    assert r.status_code == 422
    r = await client.post(
        "/api/v1/studies/trust/answers",
        json={"phase": "pre", "answers": {"trust1": True, "age": 10**6, "colour": ["blue"]}},
        headers=auth,
    )
    assert r.status_code == 422 and len(r.json()["errors"]) == 3
    r = await client.post(
        "/api/v1/studies/trust/answers",
        content=b'{"phase": "pre", "answers": {"age": 1e999}}',
        headers={**auth, "content-type": "application/json"},
    )
    assert r.status_code == 422
    # Full and closed studies.
    await create_study(client, definition("tiny", target_per_arm=1, arms=[{"name": "only"}]))
    assert (await enter(client, "tiny", "T1")).status_code == 200
    r = await enter(client, "tiny", "T2")
    assert r.status_code == 409 and r.json()["type"] == "study_full"
    assert (await enter(client, "tiny", "T1")).status_code == 200  # still resumes
    await client.post("/api/v1/studies/trust/close", headers=await lab(client))
    r = await enter(client, "trust", "LATE")
    assert r.status_code == 409 and r.json()["type"] == "study_closed"
    assert (await enter(client, "trust", "A")).status_code == 200  # still resumes


async def test_declined_and_preview(client: AppClient) -> None:
    await create_study(client, definition(pre_questionnaire=[], post_questionnaire=[]))
    token = (await enter(client, "trust", "NO")).json()["token"]
    r = await client.post(
        "/api/v1/studies/trust/consent", json={"agree": False}, headers=bearer(token)
    )
    assert r.json()["status"] == "declined" and r.json()["session_id"] is None
    # Empty questionnaires: consent leads straight to the task; complete from the task.
    token = (await enter(client, "trust", "YES")).json()["token"]
    state = (
        await client.post(
            "/api/v1/studies/trust/consent", json={"agree": True}, headers=bearer(token)
        )
    ).json()
    assert state["status"] == "task"
    for _ in range(2):
        await chat(client, token, state["session_id"])
    r = await client.post("/api/v1/studies/trust/complete", headers=bearer(token))
    assert r.json()["status"] == "completed"
    # A preview of an arm: marked, not counted.
    r = await client.post("/api/v1/studies/trust/preview?arm=cold", headers=await lab(client))
    assert r.status_code == 201, r.text
    preview = r.json()
    assert preview["arm"] == "cold" and preview["url"].startswith("/s/trust")
    me = (await client.get("/api/v1/studies/trust/me", headers=bearer(preview["token"]))).json()
    assert me["is_preview"] is True
    r = await client.post("/api/v1/studies/trust/preview?arm=nope", headers=await lab(client))
    assert r.status_code == 404
    prog = (await client.get("/api/v1/studies/trust/progress", headers=await lab(client))).json()
    assert prog["totals"]["started"] == 2 and prog["totals"]["declined"] == 1


async def test_study_page_frame_ancestors(client: AppClient) -> None:
    await create_study(client, definition(allowed_frame_origins=["https://*.qualtrics.com"]))
    r = await client.get("/s/trust?PROLIFIC_PID=abc")
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://*.qualtrics.com" in csp
    assert "x-frame-options" not in r.headers
    r = await client.get("/s/unknown")
    assert "frame-ancestors 'self';" in r.headers["content-security-policy"] + ";"


async def test_arm_documents_ground_the_participants_answers(client: AppClient) -> None:
    """An arm's `rag_file_ids` (files of the study's owner) ground every answer in the arm;
    a file that is not the owner's is refused when the study is saved."""
    staff = await lab(client)
    text = b"The refund window of the Zephyr outdoor store is 45 days from delivery. " * 4
    r = await client.post(
        "/api/v1/files/upload", files={"file": ("policy.txt", text, "text/plain")}, headers=staff
    )
    assert r.status_code == 201, r.text
    file_id = r.json()["id"]
    for _ in range(600):
        status = (await client.get(f"/api/v1/files/{file_id}", headers=staff)).json()["status"]
        if status in ("ready", "failed"):
            break
        await asyncio.sleep(0.05)
    assert status == "ready"
    arm = {"name": "docs", "provider": "scripted", "model": "instant"}
    bad = definition("bad-docs", arms=[{**arm, "rag_file_ids": ["not-a-file"]}])
    r = await client.post("/api/v1/studies", json=bad, headers=staff)
    assert r.status_code == 422 and "not-a-file" in r.json()["detail"]
    other = await client.post(
        "/api/v1/files/upload",
        files={"file": ("mine.txt", b"somebody else's notes " * 20, "text/plain")},
        headers={"x-user-id": "someone"},
    )
    bad = definition("bad-docs", arms=[{**arm, "rag_file_ids": [other.json()["id"]]}])
    r = await client.post("/api/v1/studies", json=bad, headers=staff)
    assert r.status_code == 422

    await create_study(client, definition("docs", arms=[{**arm, "rag_file_ids": [file_id]}]))
    token = (await enter(client, "docs", "P-DOCS")).json()["token"]
    auth = bearer(token)
    await client.post("/api/v1/studies/docs/consent", json={"agree": True}, headers=auth)
    r = await client.post(
        "/api/v1/studies/docs/answers", json={"phase": "pre", "answers": GOOD_PRE}, headers=auth
    )
    answer = await chat(client, token, r.json()["session_id"], "How long is the refund window?")
    assert "45 days from delivery" in (scripted(client).last.request.system or "")
    assert [c["file_id"] for c in answer["citations"]] == [file_id]
