"""Intent accuracy of the coordinator's router on a labelled set written for it
(bench/data/intent_utterances.json: paraphrases and near-misses, at least 20 per intent,
none of them among the router's own examples in config/intent_examples.json).

Prints the accuracy of the rules alone, the embedding similarity alone and the two together
(the router without its LLM stage: target >= 90%), per-intent accuracy and the misses'
confusion for the combined router, and its p50/p95 routing time. No model is called.

    python bench/agents_intent.py
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from llm_platform.agents.intent import Intent, IntentRouter
from llm_platform.agents.intent_rules import load_examples, load_keywords
from llm_platform.rag.embeddings import LocalEmbedder

DATA = Path(__file__).resolve().parent / "data" / "intent_utterances.json"
TARGET = 0.90


class Utterance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    intent: Intent
    has_images: bool = False
    has_files: bool = False


def load_set(path: Path = DATA) -> list[Utterance]:
    rows = json.loads(path.read_text(encoding="utf-8"))["utterances"]
    return [Utterance.model_validate(row) for row in rows]


def _accuracy(pairs: list[tuple[Utterance, Intent]]) -> float:
    return sum(u.intent == got for u, got in pairs) / len(pairs)


async def measure() -> list[str]:
    items = load_set()
    keywords, examples = load_keywords(None), load_examples(None)
    embedder = LocalEmbedder()
    rules_only = IntentRouter(keywords, examples, None, None)
    router = IntentRouter(keywords, examples, embedder, None)
    await router.warm_up()
    assert router.index is not None

    by_rules: list[tuple[Utterance, Intent]] = []
    by_embedding: list[tuple[Utterance, Intent]] = []
    combined: list[tuple[Utterance, Intent]] = []
    deciders: Counter[str] = Counter()
    times: list[float] = []
    for item in items:
        flags = {"has_images": item.has_images, "has_files": item.has_files}
        by_rules.append((item, (await rules_only.route(item.text, **flags, use_llm=False)).intent))
        stage = await router.embedding_stage(item.text, has_files=item.has_files)
        assert stage is not None and stage[0].intent is not None
        by_embedding.append((item, stage[0].intent))
        decision = await router.route(item.text, **flags, use_llm=False)
        combined.append((item, decision.intent))
        deciders[decision.decided_by] += 1
        times.append(decision.total_ms)

    total = _accuracy(combined)
    lines = [
        f"intent routing: {len(items)} labelled utterances, {len(Intent)} intents",
        f"  rules alone        {_accuracy(by_rules):6.1%}",
        f"  embedding alone    {_accuracy(by_embedding):6.1%}",
        f"  rules + embedding  {total:6.1%}   (target >= {TARGET:.0%}: "
        f"{'met' if total >= TARGET else 'NOT met'})",
        "  decided by: " + ", ".join(f"{k} {v}" for k, v in deciders.most_common()),
        "  per intent (rules + embedding):",
    ]
    for intent in Intent:
        own = [(u, got) for u, got in combined if u.intent == intent]
        lines.append(f"    {intent.value:<16} {_accuracy(own):6.1%}  (n={len(own)})")
    misses = [(u, got) for u, got in combined if u.intent != got]
    confusion = Counter((u.intent.value, got.value) for u, got in misses)
    lines.append(f"  misses ({len(misses)}), expected -> got:")
    lines += [f"    {want} -> {got}: {n}" for (want, got), n in confusion.most_common()]
    lines += [f"      {u.text!r}" for u, _ in misses]
    times.sort()
    lines.append(
        f"  routing time (rules + embedding, warm): p50 {statistics.median(times):.2f} ms, "
        f"p95 {times[int(0.95 * (len(times) - 1))]:.2f} ms"
    )
    return lines


def run() -> list[str]:
    return asyncio.run(measure())


if __name__ == "__main__":
    print("\n".join(run()))
