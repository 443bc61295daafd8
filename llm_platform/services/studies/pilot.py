"""Pilot runs: simulated participants going through the real HTTP flow of a study (enter,
consent, questionnaires with plausible answers, a few chat turns, completion), entered with
the owner's key so that they are marked as pilot data, and the numbers a researcher checks
before launch (arm balance, completion rate, median time, failed steps)."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from llm_platform.schemas.studies import AnswerValue, Item, PilotReport, StudyDefinition

PROMPTS = [
    "Can you explain the main idea in two sentences?",
    "What would be a good first step?",
    "Why is that the case?",
    "Could you give me an example?",
    "Thanks, anything else I should know?",
]


def plausible_answer(item: Item, rng: random.Random) -> AnswerValue:
    """What an attentive participant might answer (attention checks answered right)."""
    if item.attention_check is not None:
        return item.attention_check.expected
    if item.kind == "likert":
        assert item.scale is not None
        return rng.randint(item.scale.min, item.scale.max)
    if item.kind == "single":
        return rng.choice(item.options or [""])
    if item.kind == "multiple":
        options = item.options or []
        return rng.sample(options, k=max(1, min(2, len(options))))
    if item.kind == "number":
        low = item.min if item.min is not None else 0
        high = item.max if item.max is not None else low + 100
        return round(rng.uniform(low, high), 1)
    limit = item.max_length or 200
    return "A pilot participant's answer."[:limit]


@dataclass
class Outcome:
    completed: bool = False
    seconds: float = 0.0
    failed_step: str | None = None
    detail: str | None = None


@dataclass
class PilotRun:
    client: httpx.AsyncClient
    study_id: str
    key: str
    definition: StudyDefinition
    seed: int = 0
    max_wait_s: float = 0.0  # minutes on task above this: the step fails instead of waiting
    outcomes: list[Outcome] = field(default_factory=list)

    async def participant(self, number: int) -> Outcome:
        rng = random.Random(f"{self.seed}:{number}")
        out = Outcome()
        started = time.perf_counter()
        base = f"/api/v1/studies/{self.study_id}"
        step = "enter"
        try:
            pid = f"pilot-{self.seed}-{number}-{rng.getrandbits(32):08x}"
            r = await self.client.post(
                f"{base}/enter",
                json={"params": {"PROLIFIC_PID": pid, "participant": pid}},
                headers={"Authorization": f"Bearer {self.key}"},
            )
            body = _ok(r, step)
            token = body["token"]
            auth = {"Authorization": f"Bearer {token}"}
            state = body["participant"]
            step = "consent"
            state = _ok(
                await self.client.post(f"{base}/consent", json={"agree": True}, headers=auth), step
            )
            if self.definition.pre_questionnaire:
                step = "pre_questionnaire"
                state = await self._answer("pre", auth, rng, base, step)
            step = "chat"
            rule = self.definition.completion
            turns = max(rule.min_turns, 1)
            for turn in range(turns):
                r = await self.client.post(
                    "/api/v1/query",
                    json={"query": PROMPTS[turn % len(PROMPTS)], "session_id": state["session_id"]},
                    headers=auth,
                )
                _ok(r, step)
            step = "progress"
            state = _ok(await self.client.get(f"{base}/me", headers=auth), step)
            waited = 0.0
            while not state["progress"]["met"]:
                if waited >= self.max_wait_s:
                    raise StepFailed(step, "completion rule not met (minutes on task)")
                await asyncio.sleep(1.0)
                waited += 1.0
                state = _ok(await self.client.get(f"{base}/me", headers=auth), step)
            step = "post_questionnaire"
            state = await self._answer("post", auth, rng, base, step)
            step = "complete"
            state = _ok(await self.client.post(f"{base}/complete", headers=auth), step)
            out.completed = state["status"] == "completed" and bool(state["completion_code"])
        except StepFailed as exc:
            out.failed_step, out.detail = exc.step, exc.detail
        except httpx.HTTPError as exc:
            out.failed_step, out.detail = step, f"{type(exc).__name__}: {exc}"
        out.seconds = time.perf_counter() - started
        return out

    async def _answer(
        self, phase: str, auth: dict[str, str], rng: random.Random, base: str, step: str
    ) -> dict[str, Any]:
        items = self.definition.items(phase)  # type: ignore[arg-type]
        answers = {i.id: plausible_answer(i, rng) for i in items}
        r = await self.client.post(
            f"{base}/answers", json={"phase": phase, "answers": answers}, headers=auth
        )
        return _ok(r, step)

    async def run(self, participants: int, concurrency: int) -> PilotReport:
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(n: int) -> Outcome:
            async with gate:
                return await self.participant(n)

        self.outcomes = list(await asyncio.gather(*(one(n) for n in range(participants))))
        arms = await self._arm_counts()
        times = [o.seconds for o in self.outcomes if o.completed]
        completed = sum(o.completed for o in self.outcomes)
        return PilotReport(
            participants=participants,
            completed=completed,
            arms=arms,
            completion_rate=round(completed / participants, 4) if participants else 0.0,
            median_seconds=round(statistics.median(times), 3) if times else None,
            failed_steps=dict(Counter(o.failed_step for o in self.outcomes if o.failed_step)),
        )

    async def _arm_counts(self) -> dict[str, int]:
        r = await self.client.get(
            f"/api/v1/studies/{self.study_id}/progress",
            params={"include_pilot": "true"},
            headers={"Authorization": f"Bearer {self.key}"},
        )
        if r.status_code != 200:
            return {}
        return {a["arm"]: a["started"] for a in r.json()["arms"]}


class StepFailed(Exception):
    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step, self.detail = step, detail


def _ok(response: httpx.Response, step: str) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            detail = str(response.json().get("detail"))
        except ValueError:
            detail = response.text[:200]
        raise StepFailed(step, f"HTTP {response.status_code}: {detail}")
    data: dict[str, Any] = response.json()
    return data


async def load_definition(client: httpx.AsyncClient, study_id: str, key: str) -> StudyDefinition:
    r = await client.get(f"/api/v1/studies/{study_id}", headers={"Authorization": f"Bearer {key}"})
    return StudyDefinition.model_validate(_ok(r, "load study")["definition"])


def format_report(report: PilotReport) -> str:
    median = report.median_seconds
    lines = [
        f"participants: {report.participants}",
        f"completed: {report.completed} ({report.completion_rate:.0%})",
        f"median time to complete: {median if median is not None else '-'} s",
        "arm balance: " + (", ".join(f"{a}={n}" for a, n in sorted(report.arms.items())) or "-"),
    ]
    if report.arms:
        sizes = list(report.arms.values())
        lines.append(f"largest - smallest arm: {max(sizes) - min(sizes)}")
    lines.append(
        "failed steps: "
        + (", ".join(f"{s}={n}" for s, n in sorted(report.failed_steps.items())) or "none")
    )
    return "\n".join(lines)
