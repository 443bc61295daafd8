"""Stand-ins for the agents' ports (the intent router, memories, products, the shopping
interview, OCR) in graph and query tests: deterministic, in memory, no model calls."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llm_platform.agents.ports import InterviewStep
from llm_platform.agents.state import MemoryChange, RecalledMemory

KEYWORDS = {
    "remember": "memory_remember",
    "forget": "memory_forget",
    "what do you know": "memory_recall",
    "find": "product",
    "buy": "shopping",
    "laptop": "shopping",
    "image": "image",
}


@dataclass(frozen=True)
class Decision:
    intent: str
    confidence: float = 0.9
    decided_by: str = "rules"

    def model_dump(self, *, mode: str = "python") -> dict[str, Any]:
        return {"intent": self.intent, "confidence": self.confidence, "stages": []}


@dataclass
class KeywordRouter:
    """Routes on the first keyword found; chat otherwise (images: image)."""

    calls: list[str] = field(default_factory=list)

    async def route(
        self, text: str, *, has_images: bool, has_files: bool, use_llm: bool = True
    ) -> Decision:
        self.calls.append(text)
        lowered = text.lower()
        for word, intent in KEYWORDS.items():
            if word in lowered:
                return Decision(intent)
        if has_images:
            return Decision("image")
        return Decision("document" if has_files else "chat", 0.5, "default")


@dataclass
class ListMemory:
    """Memories in a list; recall returns those sharing a word with the query (all for a
    "what do you know" question)."""

    items: dict[str, str] = field(default_factory=dict)
    fail: bool = False
    delay: float = 0.0

    async def has_any(self, user_id: str) -> bool:
        return True  # the tests' memory agent always runs (its failures are tested)

    async def recall(self, user_id: str, query: str) -> Sequence[RecalledMemory]:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("vector index unavailable")
        words = set(query.lower().replace("?", "").split())
        return [
            RecalledMemory(id=i, text=t, score=1.0)
            for i, t in self.items.items()
            if words & set(t.lower().split()) or "know" in words
        ]

    async def remember(
        self,
        *,
        user_id: str,
        user_text: str,
        session_id: str | None,
        query_id: str,
        when: datetime,
    ) -> Sequence[MemoryChange]:
        fact = user_text.split("remember", 1)[-1].strip(" :,.")
        new_id = f"m{len(self.items) + 1}"
        self.items[new_id] = fact
        return [MemoryChange(action="add", id=new_id, text=fact, old_text=None)]

    async def learn(
        self,
        *,
        user_id: str,
        user_text: str,
        session_id: str | None,
        query_id: str,
        when: datetime,
    ) -> Sequence[MemoryChange]:
        return []

    async def forget(self, *, user_id: str, what: str) -> Sequence[MemoryChange]:
        out = []
        for i, t in list(self.items.items()):
            if any(w in t.lower() for w in what.lower().split()[1:]):
                del self.items[i]
                out.append(MemoryChange(action="delete", id=i, text=t, old_text=t))
        return out

    def prompt(self, memories: Sequence[RecalledMemory]) -> str:
        return "Known about the user:\n" + "\n".join(f"* {m['text']}" for m in memories)


CATALOG = [
    {
        "id": "p1",
        "title": "Aero 14 laptop",
        "price": 799.0,
        "currency": "EUR",
        "category": "laptops",
        "url": "https://shop.example/p1",
        "image_url": None,
        "rating": 4.5,
        "description": "Light laptop",
        "source": "local",
    },
    {
        "id": "p2",
        "title": "Forge 16 gaming laptop",
        "price": 1299.0,
        "currency": "EUR",
        "category": "laptops",
        "url": "https://shop.example/p2",
        "image_url": None,
        "rating": 4.7,
        "description": "RTX graphics",
        "source": "local",
    },
]


@dataclass
class Catalog:
    calls: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)

    async def find(
        self, query: str, criteria: Mapping[str, Any] | None, limit: int
    ) -> Sequence[Mapping[str, Any]]:
        self.calls.append((query, dict(criteria) if criteria is not None else None))
        budget = (criteria or {}).get("budget_max")
        return [c for c in CATALOG if budget is None or c["price"] <= budget][:limit]


QUESTIONS = [
    ("use_case", "What will you mainly use it for?", ["Work", "Gaming", "Travel"]),
    ("budget_max", "What is your budget?", ["Under 800", "Under 1500"]),
]


class ThreeStepInterviewer:
    """Use case, then budget, then ready (a rule-based interview)."""

    async def step(self, criteria: Mapping[str, Any] | None, user_text: str) -> InterviewStep:
        current = dict(criteria or {})
        asked = current.pop("_asked", None)
        if asked == "use_case":
            current["use_case"] = user_text.strip().lower()
        elif asked == "budget_max":
            digits = "".join(ch for ch in user_text if ch.isdigit())
            current["budget_max"] = float(digits) if digits else None
        for name, question, options in QUESTIONS:
            if name not in current:
                return InterviewStep(
                    criteria={**current, "_asked": name},
                    question=question,
                    options=options,
                    field=name,
                )
        return InterviewStep(criteria=current, question=None, ready=True)


async def fake_ocr(data: bytes) -> str:
    return "INVOICE 4711 total 99 EUR"


async def hang(*_: Any, **__: Any) -> Any:
    await asyncio.Event().wait()
