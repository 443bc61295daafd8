"""Variant assignment: deterministic per (experiment, user), distributed by weight."""

from __future__ import annotations

from collections import Counter

from llm_platform.schemas.experiments import Variant
from llm_platform.services.experiments import assign_variant


def test_assignment_is_deterministic_and_follows_weights() -> None:
    arms = [Variant(name="a", weight=1), Variant(name="b", weight=3), Variant(name="c", weight=6)]
    counts = Counter(assign_variant("exp", f"user-{i}", arms).name for i in range(20_000))
    share = {k: v / 20_000 for k, v in counts.items()}
    assert abs(share["a"] - 0.1) < 0.015
    assert abs(share["b"] - 0.3) < 0.015
    assert abs(share["c"] - 0.6) < 0.015
    assert all(
        assign_variant("exp", f"user-{i}", arms).name
        == assign_variant("exp", f"user-{i}", list(arms)).name
        for i in range(200)
    )


def test_assignment_differs_between_experiments() -> None:
    arms = [Variant(name="a"), Variant(name="b")]
    first = [assign_variant("one", f"u{i}", arms).name for i in range(200)]
    second = [assign_variant("two", f"u{i}", arms).name for i in range(200)]
    assert first != second  # independent randomisation per experiment
    assert assign_variant("x", "u", [Variant(name="solo")]).name == "solo"
