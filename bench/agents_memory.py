"""Memory benchmark: one user over six sessions (bench/data/memory_sessions.json) through the
real remember -> reconcile -> recall -> forget code on a fresh SQLite database with the local
MiniLM embedder.

    python bench/agents_memory.py

The model is scripted and deterministic: the extractor replays the extraction the dataset
gives for each message; the reconciler updates a shown memory of the same fact "slot" (as a
faithful model would) and adds otherwise; forgetting picks the shown memories of the named
slot. What is measured is everything around the model: sensitive screening, duplicate
detection, whether the closest-memory search puts the old fact in front of the reconciler,
and recall within the token budget. Printed:
- recall@5: the latest text of the probed fact among the first five recalled (with the
  default MEMORY_RECALL_MIN_SCORE and token budget, and by rank alone);
- absent facts recalled: forgotten or sensitive facts that come back (should be 0);
- stale or duplicate share: memories left that are an outdated version of a fact, a
  forgotten or sensitive one, or a second copy of a fact (target <= 5%).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from sqlalchemy import select

from llm_platform.agents import memory_agent
from llm_platform.agents.llm import LlmRef
from llm_platform.core.config import Settings
from llm_platform.core.logging import configure_logging
from llm_platform.db.engine import create_database
from llm_platform.db.migrate import upgrade
from llm_platform.db.models import Memory, Session
from llm_platform.providers.base import ChatRequest, TextDelta, UsageEvent
from llm_platform.providers.scripted import Script, ScriptedProvider
from llm_platform.rag.embeddings import LocalEmbedder

DATA = Path(__file__).parent / "data" / "memory_sessions.json"
_LISTED = re.compile(r'^(\d+)\. "(.*)"$', re.MULTILINE)
_NEW = re.compile(r'\): "(.*)"\n')


@dataclass
class BenchModel:
    """Scripted extractor, reconciler and forget-picker driven by the dataset."""

    slot_of: dict[str, str]
    pending_facts: list[dict[str, str]] = field(default_factory=list)
    pending_forget: str | None = None
    calls: Counter[str] = field(default_factory=Counter)

    def script(self, request: ChatRequest, index: int) -> Script:
        system = request.system or ""
        prompt = request.messages[-1].content
        if system.startswith(memory_agent.EXTRACT_SYSTEM[:40]):
            self.calls["extract"] += 1
            facts = [
                {"text": f["text"], "kind": f["kind"], "category": f["category"]}
                for f in self.pending_facts
            ]
            answer: dict[str, Any] = {"facts": facts}
        elif system.startswith(memory_agent.RECONCILE_SYSTEM[:40]):
            self.calls["reconcile"] += 1
            found = _NEW.search(prompt)
            new = found.group(1) if found else ""
            slot = self.slot_of.get(new)
            same = [t for t, text in _LISTED.findall(prompt) if self.slot_of.get(text) == slot]
            answer = {"action": "update", "id": same[0], "text": new} if same else {"action": "add"}
        else:
            self.calls["forget"] += 1
            ids = [
                t
                for t, text in _LISTED.findall(prompt)
                if self.slot_of.get(text) == self.pending_forget
            ]
            answer = {"ids": ids}
        return [TextDelta(text=json.dumps(answer)), UsageEvent(input_tokens=1, output_tokens=1)]


async def _run() -> list[str]:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    user = data["user"]
    slot_of: dict[str, str] = {}
    current: dict[str, str | None] = {}
    sensitive_slots: set[str] = set()
    stated = corrections = forgets = 0
    settings = Settings(_env_file=None, LOG_LEVEL="WARNING")
    configure_logging(settings)
    sensitive = {c.lower() for c in settings.MEMORY_SENSITIVE_CATEGORIES}
    for session in data["sessions"]:
        for message in session["messages"]:
            if "forget" in message:
                forgets += 1
                current[message["forget"]] = None
            for fact in message.get("facts", []):
                stated += 1
                slot_of[fact["text"]] = fact["slot"]
                if current.get(fact["slot"]) not in (None, fact["text"]):
                    corrections += 1
                current[fact["slot"]] = fact["text"]
                if fact["category"] in sensitive or memory_agent.is_sensitive(
                    fact["text"], None, []
                ):
                    sensitive_slots.add(fact["slot"])
    for slot in sensitive_slots:
        current[slot] = None

    model = BenchModel(slot_of=slot_of)
    llm = LlmRef(provider=ScriptedProvider(script=model.script), model="bench")
    embedder = LocalEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        database = create_database(
            Settings(
                DATA_DIR=Path(tmp),
                DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/bench.db",
                _env_file=None,
            )
        )
        await upgrade(database.engine)
        turn_ms: list[float] = []
        try:
            for session in data["sessions"]:
                when = datetime.fromisoformat(session["time"].replace("Z", "+00:00"))
                session_id = f"{user}:{session['id']}"
                async with database.write_sessions() as db:
                    db.add(Session(id=session_id, user_id=user, environment={}, started_at=when))
                    await db.commit()
                for i, message in enumerate(session["messages"]):
                    started = time.perf_counter()
                    async with database.write_sessions() as db:
                        if "forget" in message:
                            model.pending_forget = message["forget"]
                            await memory_agent.forget(
                                db,
                                embedder,
                                llm,
                                user_id=user,
                                what=message["text"],
                                session_id=session_id,
                            )
                        else:
                            model.pending_facts = message["facts"]
                            await memory_agent.remember(
                                db,
                                embedder,
                                llm,
                                user_id=user,
                                user_text=message["text"],
                                session_id=session_id,
                                query_id=f"{session['id']}-{i}",
                                when=when,
                                sensitive_categories=settings.MEMORY_SENSITIVE_CATEGORIES,
                                top_k=settings.MEMORY_RECONCILE_TOP_K,
                            )
                        await db.commit()
                    turn_ms.append((time.perf_counter() - started) * 1000)

            hits = hits_rank = 0
            misses: list[str] = []
            absent_recalled: list[str] = []
            async with database.read_sessions() as db:
                for probe in data["probes"]:
                    expected = current[probe["slot"]]
                    for min_score, counter in (
                        (settings.MEMORY_RECALL_MIN_SCORE, "default"),
                        (-1.0, "rank"),
                    ):
                        recalled = await memory_agent.recall(
                            db,
                            embedder,
                            user,
                            probe["question"],
                            token_budget=settings.MEMORY_RECALL_TOKENS,
                            count_tokens=embedder.count_tokens,
                            min_score=min_score,
                            limit=5,
                        )
                        found = expected in [m.text for m in recalled]
                        if counter == "default":
                            hits += found
                            if not found:
                                misses.append(probe["question"])
                        else:
                            hits_rank += found
                for probe in data["absent"]:
                    recalled = await memory_agent.recall(
                        db,
                        embedder,
                        user,
                        probe["question"],
                        token_budget=settings.MEMORY_RECALL_TOKENS,
                        count_tokens=embedder.count_tokens,
                        limit=5,
                    )
                    if any(slot_of.get(m.text) == probe["slot"] for m in recalled):
                        absent_recalled.append(probe["question"])
                rows = list((await db.scalars(select(Memory).where(Memory.user_id == user))).all())
        finally:
            await database.dispose()

    per_slot = Counter(slot_of.get(r.text, "?") for r in rows)
    stale = [r.text for r in rows if current.get(slot_of.get(r.text, "?")) != r.text]
    duplicates = sum(n - 1 for n in per_slot.values() if n > 1)
    bad = len(stale) + duplicates
    n_probes = len(data["probes"])
    lines = [
        f"memory: {stated} facts stated over {len(data['sessions'])} sessions "
        f"({corrections} corrections, {forgets} forget requests, "
        f"{len(sensitive_slots)} sensitive); "
        f"model calls: {dict(model.calls)}",
        f"memory: recall@5 {hits}/{n_probes} = {hits / n_probes:.2f} "
        f"(min score {settings.MEMORY_RECALL_MIN_SCORE}, "
        f"{settings.MEMORY_RECALL_TOKENS}-token budget; "
        f"by rank alone {hits_rank / n_probes:.2f}; target >= 0.9)",
        "memory: forgotten or sensitive facts recalled: "
        f"{len(absent_recalled)}/{len(data['absent'])}",
        f"memory: {len(rows)} memories left, stale or duplicate {bad} = "
        f"{bad / max(len(rows), 1):.1%} (target <= 5%)",
        f"memory: remember/forget per message p50 {statistics.median(turn_ms):.0f} ms "
        f"(scripted model, local MiniLM)",
    ]
    lines += [f"memory:   missed: {q}" for q in misses]
    lines += [f"memory:   stale: {t}" for t in stale]
    lines += [f"memory:   recalled but absent: {q}" for q in absent_recalled]
    return lines


def run() -> list[str]:
    return asyncio.run(_run())


if __name__ == "__main__":
    for line in run():
        print(line)
    sys.exit(0)
