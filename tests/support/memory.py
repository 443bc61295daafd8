"""A scripted model for the memory agent: answers each kind of call (extraction,
reconciliation, forgetting, summary) from its own queue of JSON texts, by the system prompt."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson

from llm_platform.agents.llm import LlmRef
from llm_platform.agents.memory_agent import EXTRACT_SYSTEM, FORGET_SYSTEM, RECONCILE_SYSTEM
from llm_platform.providers.base import ChatRequest, TextDelta, UsageEvent
from llm_platform.providers.scripted import Script, ScriptedProvider

KINDS = {
    "extract": EXTRACT_SYSTEM[:60],
    "reconcile": RECONCILE_SYSTEM[:60],
    "forget": FORGET_SYSTEM[:60],
}


def _kind(request: ChatRequest) -> str:
    system = request.system or ""
    for kind, start in KINDS.items():
        if system.startswith(start):
            return kind
    return "summary"


@dataclass
class MemoryModel:
    """`answers[kind]`: texts (or JSON-able values) for that kind's next calls, in order."""

    answers: dict[str, deque[str]] = field(
        default_factory=lambda: {k: deque() for k in (*KINDS, "summary")}
    )
    requests: list[tuple[str, ChatRequest]] = field(default_factory=list)

    def queue(self, kind: str, *answers: Any) -> None:
        for answer in answers:
            text = answer if isinstance(answer, str) else orjson.dumps(answer).decode()
            self.answers[kind].append(text)

    def of(self, kind: str) -> list[ChatRequest]:
        return [r for k, r in self.requests if k == kind]

    def _script(self, request: ChatRequest, index: int) -> Script:
        kind = _kind(request)
        self.requests.append((kind, request))
        queued = self.answers[kind]
        text = queued.popleft() if queued else "no scripted answer"
        return [TextDelta(text=text), UsageEvent(input_tokens=10, output_tokens=5)]

    def llm(self) -> LlmRef:
        return LlmRef(provider=ScriptedProvider(script=self._script), model="echo")


def facts(*items: tuple[str, str, str]) -> dict[str, Any]:
    """An extraction answer: (text, kind, category) per fact."""
    return {"facts": [{"text": t, "kind": k, "category": c} for t, k, c in items]}
