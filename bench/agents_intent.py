"""Intent accuracy of the coordinator's router on labelled sets written for it, none of whose
utterances are among the router's own examples (config/intent_examples.json):
bench/data/intent_utterances.json (239: paraphrases and near-misses, at least 20 per intent),
the set the rules were tuned on, and bench/data/intent_utterances_holdout.json (80, 10 per
intent), written after the last tuning and never tuned on: its figure is the honest one.

Prints the accuracy of the rules alone, the embedding similarity alone and the two together
(the router without its LLM stage: target >= 90%), how many messages would have gone to the
LLM classifier, per-intent accuracy and the misses' confusion, and the routing time. No
model is called.

    python bench/agents_intent.py
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from llm_platform.agents.intent import Intent, IntentRouter
from llm_platform.agents.intent_rules import load_examples, load_keywords
from llm_platform.rag.embeddings import LocalEmbedder

DATA = Path(__file__).resolve().parent / "data" / "intent_utterances.json"
HELD_OUT = DATA.with_name("intent_utterances_holdout.json")
TARGET = 0.90


class Utterance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    intent: Intent
    has_images: bool = False
    has_files: bool = False


def load_set(path: Path) -> list[Utterance]:
    rows = json.loads(path.read_text(encoding="utf-8"))["utterances"]
    return [Utterance.model_validate(row) for row in rows]


def _accuracy(pairs: list[tuple[Utterance, Intent]]) -> float:
    return sum(u.intent == got for u, got in pairs) / len(pairs)


@dataclass
class Scored:
    rules: list[tuple[Utterance, Intent]] = field(default_factory=list)
    embedding: list[tuple[Utterance, Intent]] = field(default_factory=list)
    combined: list[tuple[Utterance, Intent]] = field(default_factory=list)
    deciders: Counter[str] = field(default_factory=Counter)
    times: list[float] = field(default_factory=list)
    embedded_times: list[float] = field(default_factory=list)  # those the embedder saw


async def score(items: list[Utterance], rules_only: IntentRouter, router: IntentRouter) -> Scored:
    out = Scored()
    for item in items:
        flags = {"has_images": item.has_images, "has_files": item.has_files}
        decision = await rules_only.route(item.text, **flags, use_llm=False)
        out.rules.append((item, decision.intent))
        stage = await router.embedding_stage(item.text, has_files=item.has_files)
        assert stage is not None and stage[0].intent is not None
        out.embedding.append((item, stage[0].intent))
        decision = await router.route(item.text, **flags, use_llm=False)
        out.combined.append((item, decision.intent))
        unsure = decision.decided_by == "embedding" and not decision.stages[-1].sure
        out.deciders[
            "embedding, unsure (the LLM would be asked)" if unsure else decision.decided_by
        ] += 1
        out.times.append(decision.total_ms)
        if any(stage.stage == "embedding" for stage in decision.stages):
            out.embedded_times.append(decision.total_ms)
    return out


def report(name: str, scored: Scored, *, detail: bool) -> list[str]:
    total = _accuracy(scored.combined)
    lines = [
        f"{name}: {len(scored.combined)} labelled utterances",
        f"  rules alone        {_accuracy(scored.rules):6.1%}",
        f"  embedding alone    {_accuracy(scored.embedding):6.1%}",
        f"  rules + embedding  {total:6.1%}   (target >= {TARGET:.0%}: "
        f"{'met' if total >= TARGET else 'NOT met'})",
        "  decided by: " + ", ".join(f"{k} {v}" for k, v in scored.deciders.most_common()),
    ]
    if detail:
        lines.append("  per intent (rules + embedding):")
        for intent in Intent:
            own = [(u, got) for u, got in scored.combined if u.intent == intent]
            lines.append(f"    {intent.value:<16} {_accuracy(own):6.1%}  (n={len(own)})")
    misses = [(u, got) for u, got in scored.combined if u.intent != got]
    confusion = Counter((u.intent.value, got.value) for u, got in misses)
    lines.append(f"  misses ({len(misses)}), expected -> got:")
    lines += [f"    {want} -> {got}: {n}" for (want, got), n in confusion.most_common()]
    lines += [f"      {u.text!r} -> {got.value}" for u, got in misses]
    return lines


async def measure() -> list[str]:
    keywords, examples = load_keywords(None), load_examples(None)
    rules_only = IntentRouter(keywords, examples, None, None)
    router = IntentRouter(keywords, examples, LocalEmbedder(), None)
    await router.warm_up()
    main = await score(load_set(DATA), rules_only, router)
    held_out = await score(load_set(HELD_OUT), rules_only, router)
    times = sorted(main.times + held_out.times)
    embedded = sorted(main.embedded_times + held_out.embedded_times)
    return [
        *report("intent routing, tuning set", main, detail=True),
        *report("intent routing, held-out set (never tuned on)", held_out, detail=False),
        f"  routing time (rules + embedding, warm, both sets): p50 {_pct(times, 0.5):.2f} ms, "
        f"p95 {_pct(times, 0.95):.2f} ms; the {len(embedded)} that reached the embedding "
        f"stage: p50 {_pct(embedded, 0.5):.2f} ms, p95 {_pct(embedded, 0.95):.2f} ms",
    ]


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1] if len(values) > 1 else values[0]


def run() -> list[str]:
    return asyncio.run(measure())


if __name__ == "__main__":
    print("\n".join(run()))
