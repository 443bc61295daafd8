"""Chain of thought: reasoning deltas grouped into timed steps (paragraphs)."""

from __future__ import annotations

import time

from llm_platform.schemas.query import ChainOfThought, ThoughtStep

_MAX_DESCRIPTION = 2000


class ThoughtTracker:
    """Feed reasoning deltas as they arrive; `result()` gives steps with durations.

    A step is a paragraph of the reasoning; its duration runs from its first delta to the
    next step's (the last one ends when the answer starts, or at the end).
    """

    def __init__(self) -> None:
        self._steps: list[tuple[float, list[str]]] = []
        self._pending_break = False
        self._ended: float | None = None

    @property
    def started(self) -> bool:
        return bool(self._steps)

    def add(self, text: str, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        parts = text.split("\n\n")
        for index, part in enumerate(parts):
            if index > 0:
                self._pending_break = True
            if not part.strip():
                continue
            if not self._steps or self._pending_break:
                self._steps.append((now, []))
                self._pending_break = False
            self._steps[-1][1].append(part)

    def end(self, now: float | None = None) -> None:
        if self._steps and self._ended is None:
            self._ended = time.perf_counter() if now is None else now

    def result(self, reasoning_tokens: int | None) -> ChainOfThought | None:
        if not self._steps:
            return None
        end = self._ended if self._ended is not None else time.perf_counter()
        steps = []
        for index, (started, chunks) in enumerate(self._steps):
            finished = self._steps[index + 1][0] if index + 1 < len(self._steps) else end
            description = "".join(chunks).strip()[:_MAX_DESCRIPTION]
            steps.append(
                ThoughtStep(
                    step=index + 1,
                    description=description,
                    duration_ms=round((finished - started) * 1000, 1),
                )
            )
        total = round((end - self._steps[0][0]) * 1000, 1)
        return ChainOfThought(
            steps=steps, total_thinking_time_ms=total, reasoning_tokens=reasoning_tokens
        )
