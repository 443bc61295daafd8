"""A scripted provider: plays a script of events with delays, records its calls.

In the spirit of pydantic-ai's `FunctionModel` / `TestModel`: tests (and, when
`ENABLE_SCRIPTED_PROVIDER` is on, browser end-to-end tests against a running server) get a
deterministic model that can reason, answer token by token, report usage, fail before the
first token or mid-stream, or hang until cancelled.

A script is a sequence of steps: stream events (yielded as they are), `Delay` (sleep),
`Hang` (wait until cancelled) and `Fail` (raise, e.g. a `ProviderRateLimited`). Scripts come,
in order of precedence, from the per-call queue (`queue(...)`), the `script` function or
sequence given at construction, or the built-in demo model named by the request.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from llm_platform.core.config import Settings
from llm_platform.providers.base import (
    ChatRequest,
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    ModelCapabilities,
    Provider,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    UsageEvent,
)
from llm_platform.providers.errors import ModelNotFound, ProviderUnavailable
from llm_platform.providers.registry import ProviderRegistry


@dataclass(frozen=True)
class Delay:
    seconds: float


@dataclass(frozen=True)
class Hang:
    """Wait until the consumer cancels (a provider that never answers)."""


@dataclass(frozen=True)
class Fail:
    error: Exception


ScriptStep = StreamEvent | Delay | Hang | Fail
Script = Sequence[ScriptStep]
ScriptFunction = Callable[[ChatRequest, int], Script]


@dataclass
class CallRecord:
    """One call to `stream`: what was asked and how it ended."""

    request: ChatRequest
    started_at: float
    finished_at: float | None = None
    outcome: str = "running"  # running | completed | failed | cancelled | closed


def words(text: str) -> list[str]:
    """Split text into word-sized chunks that re-join to the original (spaces kept)."""
    out: list[str] = []
    current = ""
    for ch in text:
        current += ch
        if ch == " ":
            out.append(current)
            current = ""
    if current:
        out.append(current)
    return out


def _word_events(
    text: str, delay: float, event: type[TextDelta] | type[ReasoningDelta]
) -> list[ScriptStep]:
    steps: list[ScriptStep] = []
    for chunk in words(text):
        if delay:
            steps.append(Delay(delay))
        steps.append(event(text=chunk))
    return steps


def text_events(text: str, *, delay: float = 0.0) -> list[ScriptStep]:
    return _word_events(text, delay, TextDelta)


def reasoning_events(text: str, *, delay: float = 0.0) -> list[ScriptStep]:
    return _word_events(text, delay, ReasoningDelta)


def tool_call_events(*calls: tuple[str, str, str]) -> list[ScriptStep]:
    """A turn that calls tools: one `ToolCallEvent` per (id, name, JSON arguments), then
    `done` with finish reason "tool_calls" (what adapters yield for a vendor's calls)."""
    steps: list[ScriptStep] = [
        ToolCallEvent(id=call_id, name=name, arguments=arguments)
        for call_id, name, arguments in calls
    ]
    steps.append(DoneEvent(finish_reason="tool_calls"))
    return steps


def _last_user_text(request: ChatRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            return message.content
    return ""


def _usage_for(request: ChatRequest, answer: str, reasoning: str) -> UsageEvent:
    prompt = sum(len(m.content.split()) for m in request.messages) + len(
        (request.system or "").split()
    )
    return UsageEvent(
        input_tokens=prompt,
        output_tokens=len(answer.split()) + len(reasoning.split()),
        reasoning_tokens=len(reasoning.split()),
        cached_tokens=0,
    )


# A numbered source in a grounded system prompt: "[1] report.pdf, page 3" then its text.
_SOURCE = re.compile(r"^\[(\d+)\] (.+)\n", re.MULTILINE)
_WORD = re.compile(r"\w+")


def grounded_answer(request: ChatRequest) -> str:
    """Answers with the sentence of the first numbered source in the system prompt that
    shares the most words with the question, citing that source as [n]."""
    system = request.system or ""
    found = _SOURCE.search(system)
    if found is None:
        return "I have no source for that."
    n, where = found.groups()
    text = system[found.end() :]
    following = _SOURCE.search(text)  # the source runs to the next one (or the end)
    text = text[: following.start()] if following else text
    asked = {w.lower() for w in _WORD.findall(_last_user_text(request))}
    sentences = [x.strip() for x in re.split(r"(?<=[.!?])\s+|\n", text) if x.strip()]
    best = max(sentences, key=lambda x: len(asked & {w.lower() for w in _WORD.findall(x)}))
    return f"According to {where}: {best.rstrip('.')} [{n}]."


def demo_script(model: str, request: ChatRequest, delay: float = 0.02) -> Script:
    """The built-in models a running server offers when the scripted provider is enabled."""
    query = _last_user_text(request)
    reasoning = f"The user wrote {len(query.split())} words.\n\nI will repeat them back."
    answer = f"You said: {query}"
    if model == "echo":
        return [
            *reasoning_events(reasoning, delay=delay),
            *text_events(answer, delay=delay),
            _usage_for(request, answer, reasoning),
            DoneEvent(finish_reason="stop"),
        ]
    if model == "slow":
        return [
            *reasoning_events(reasoning, delay=0.2),
            *text_events(answer + " " + "and so on " * 20, delay=0.2),
            _usage_for(request, answer, reasoning),
            DoneEvent(finish_reason="stop"),
        ]
    if model == "instant":
        return [*text_events(answer), _usage_for(request, answer, "")]
    if model == "plain":
        return [*text_events(answer, delay=delay), _usage_for(request, answer, "")]
    if model == "cite":
        return [
            *text_events("According to the sources, yes.", delay=delay),
            CitationEvent(title="Example source", url="https://example.org/a", snippet="yes"),
            _usage_for(request, answer, ""),
        ]
    if model == "grounded":
        grounded = grounded_answer(request)
        return [*text_events(grounded, delay=delay), _usage_for(request, grounded, "")]
    if model == "tools":
        # Calls the first declared tool (arguments "{}") unless the last message is a tool
        # result, which it then reports.
        last = request.messages[-1] if request.messages else None
        if (
            request.tools
            and request.tool_choice != "none"
            and (last is None or last.role != "tool")
        ):
            return tool_call_events(("call_demo_1", request.tools[0].name, "{}"))
        said = (
            f"The tool said: {last.content}" if last is not None and last.role == "tool" else answer
        )
        return [*text_events(said, delay=delay), _usage_for(request, said, "")]
    if model == "fail-midstream":
        return [
            *text_events("This answer stops", delay=delay),
            ErrorEvent(message="Upstream stream broke", code="stream_interrupted"),
        ]
    if model == "fail":
        return [Fail(ProviderUnavailable("scripted", "Scripted provider: upstream unavailable"))]
    if model == "hang":
        return [Hang()]
    raise ModelNotFound("scripted", f"Provider 'scripted' has no model '{model}'")


DEMO_MODELS: dict[str, ModelCapabilities] = {
    "echo": ModelCapabilities(reasoning=True, vision=True, max_output_tokens=4096),
    "slow": ModelCapabilities(reasoning=True, max_output_tokens=4096),
    "plain": ModelCapabilities(max_output_tokens=4096),
    "instant": ModelCapabilities(max_output_tokens=4096),
    "cite": ModelCapabilities(web_search=True, max_output_tokens=4096),
    "grounded": ModelCapabilities(max_output_tokens=4096),
    "tools": ModelCapabilities(max_output_tokens=4096),
    "fail-midstream": ModelCapabilities(max_output_tokens=4096),
    "fail": ModelCapabilities(max_output_tokens=4096),
    "hang": ModelCapabilities(max_output_tokens=4096),
}


@dataclass
class ScriptedProvider(Provider):
    """Plays scripts; `calls` records every request and how its stream ended (the last
    `max_calls` of them: a demo server that runs for days must not keep them all)."""

    name: str = "scripted"
    script: Script | ScriptFunction | None = None
    models: dict[str, ModelCapabilities] = field(default_factory=lambda: dict(DEMO_MODELS))
    default: str = "echo"
    token_delay: float = 0.02
    calls: list[CallRecord] = field(default_factory=list)
    max_calls: int = 200
    _queued: deque[Script] = field(default_factory=deque)
    _count: int = 0  # calls ever made (a script function's index)

    # ------------------------------------------------------------------ configuration
    def queue(self, *scripts: Script) -> None:
        """Scripts for the next calls, one per call, before falling back to `script`."""
        self._queued.extend(scripts)

    @property
    def default_model(self) -> str:
        return self.default

    def capabilities(self, model: str) -> ModelCapabilities:
        return self.models.get(model, ModelCapabilities())

    async def list_models(self) -> list[str]:
        return list(self.models)

    # ------------------------------------------------------------------ introspection
    @property
    def active(self) -> int:
        return sum(1 for c in self.calls if c.outcome == "running")

    @property
    def last(self) -> CallRecord:
        return self.calls[-1]

    def _script_for(self, request: ChatRequest, index: int) -> Script:
        if self._queued:
            return self._queued.popleft()
        if callable(self.script):
            return self.script(request, index)
        if self.script is not None:
            return self.script
        return demo_script(request.model, request, self.token_delay)

    # ------------------------------------------------------------------ streaming
    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        record = CallRecord(request=request, started_at=time.monotonic())
        self.calls.append(record)
        if len(self.calls) > self.max_calls:
            del self.calls[: len(self.calls) - self.max_calls]
        index, self._count = self._count, self._count + 1
        try:
            script = self._script_for(request, index)
            for step in script:
                if isinstance(step, Delay):
                    await asyncio.sleep(step.seconds)
                elif isinstance(step, Hang):
                    await asyncio.Event().wait()
                elif isinstance(step, Fail):
                    record.outcome = "failed"
                    raise step.error
                else:
                    yield step
            record.outcome = "completed"
        except asyncio.CancelledError:
            record.outcome = "cancelled"
            raise
        except GeneratorExit:
            record.outcome = "closed"
            raise
        except Exception:
            record.outcome = "failed"
            raise
        finally:
            record.finished_at = time.monotonic()


def with_scripted_provider(registry: ProviderRegistry, settings: Settings) -> ProviderRegistry:
    """Register the demo `scripted` provider when `ENABLE_SCRIPTED_PROVIDER` is on."""
    if settings.ENABLE_SCRIPTED_PROVIDER:
        registry.register(ScriptedProvider())
    return registry
