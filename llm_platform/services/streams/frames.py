"""Stream frames: one typed class per kind a generation emits, and the numbered unit a
stream buffer holds.

`StreamFrame` is the union every wire format matches on (the platform's SSE and WebSocket
messages in `formats.py`, the original client's lines in `api/legacy/stream.py`, OpenAI
chunks in `api/openai/stream.py`). A buffer stores a frame as its platform payload, the JSON
object `{"type": ..., ...}` that the SSE `data:` line and the WebSocket message carry:
`payload()` writes it, `parse()` reads it back (a stream replayed from Redis), so stored
streams keep their format. Frames are plain slotted dataclasses: one is built per token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import orjson

from llm_platform.core.citation import Citation
from llm_platform.schemas.query import ChainOfThought, GroundingInfo, Usage

TERMINAL_TYPES = frozenset({"done", "error"})


@dataclass(frozen=True, slots=True)
class StartFrame:
    """The first frame: names the stream's owner (only they may resume or cancel it) and
    the instance producing it (remote readers check that it is alive)."""

    type: ClassVar[str] = "start"

    stream_id: str = ""
    query_id: str = ""
    user_id: str | None = None
    instance_id: str | None = None
    provider: str = ""
    model: str = ""
    supports_cot: bool = False


@dataclass(frozen=True, slots=True)
class _TextFrame:
    content: str


@dataclass(frozen=True, slots=True)
class ThoughtFrame(_TextFrame):
    """Reasoning text as the model streams it."""

    type: ClassVar[str] = "thought"


@dataclass(frozen=True, slots=True)
class TokenFrame(_TextFrame):
    """Answer text as the model streams it."""

    type: ClassVar[str] = "token"


@dataclass(frozen=True, slots=True)
class CitationFrame:
    type: ClassVar[str] = "citation"

    citation: Citation


@dataclass(frozen=True, slots=True)
class ToolCallFrame:
    """One whole tool call the model made (its arguments as JSON text)."""

    type: ClassVar[str] = "tool_call"

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class UsageFrame:
    type: ClassVar[str] = "usage"

    usage: Usage


@dataclass(frozen=True, slots=True)
class StreamMetadata:
    """What the terminal frame says about the call (the generation's result, field for
    field). One name per fact: the platform payload writes `usage` as `tokens`, and
    `latency_ms`/`ttft_ms` also under their older names `latency`/`ttft`, as clients read
    them."""

    query_id: str | None = None
    stream_id: str | None = None
    provider: str | None = None
    model: str | None = None
    status: str | None = None
    finish_reason: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    supports_cot: bool | None = None
    chain_of_thought: ChainOfThought | None = None
    grounding: GroundingInfo | None = None


@dataclass(frozen=True, slots=True)
class DoneFrame:
    """The end of a generation that completed or was cancelled (`metadata.status`)."""

    type: ClassVar[str] = "done"

    metadata: StreamMetadata = field(default_factory=StreamMetadata)


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    """The end of a generation that failed: `status` is `error` before the first token (a
    request waiting for it answers with `http_status`), `incomplete` after it, `interrupted`
    when the instance producing the stream died. `metadata` is the generation's own (a
    reader that detects an interruption has none)."""

    type: ClassVar[str] = "error"

    error: str = "The model provider failed"
    code: str = "provider_error"
    status: str = "error"
    http_status: int = 502
    retry_after: str | None = None
    metadata: StreamMetadata | None = None


@dataclass(frozen=True, slots=True)
class NoticeFrame:
    """A note on how the request was served (a fallback model): only the original client's
    format shows it; generations never write it to a buffer."""

    type: ClassVar[str] = "notice"

    message: str


# ---------------------------------------------------------------- the agent graph's frames
# Emitted before and between the writer's tokens (services.query.agents); the original
# client's format maps them onto its own (api/legacy/stream.py), the OpenAI facade drops them.

AgentStatus = Literal["started", "ok", "error", "skipped"]


@dataclass(frozen=True, slots=True)
class AgentFrame:
    """One agent's step: `started`, then `ok`/`error` (with its duration) or `skipped`."""

    type: ClassVar[str] = "agent"

    agent: str
    step_id: str
    status: AgentStatus
    duration_ms: float | None = None
    summary: str = ""


@dataclass(frozen=True, slots=True)
class OptionsFrame:
    """A question with answer buttons (the shopping interview); a click sends the label."""

    type: ClassVar[str] = "options"

    question: str
    options: tuple[str, ...] = ()
    field: str | None = None


@dataclass(frozen=True, slots=True)
class ProductsFrame:
    """Product cards (`schemas.products.ProductCard` payloads) the answer cites."""

    type: ClassVar[str] = "products"

    products: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class MemoryUsed:
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class MemoryChangeItem:
    action: str  # add | update | delete
    id: str | None
    text: str


@dataclass(frozen=True, slots=True)
class MemoryFrame:
    """The memories the answer used and what the turn changed in them."""

    type: ClassVar[str] = "memory"

    used: tuple[MemoryUsed, ...] = ()
    changes: tuple[MemoryChangeItem, ...] = ()


# The kinds a stream carries; encoders skip what they do not show.
StreamFrame = (
    StartFrame
    | ThoughtFrame
    | TokenFrame
    | CitationFrame
    | ToolCallFrame
    | UsageFrame
    | DoneFrame
    | ErrorFrame
    | NoticeFrame
    | AgentFrame
    | OptionsFrame
    | ProductsFrame
    | MemoryFrame
)
# Frames that may come before the first token (a request waiting for the first token
# reads past them: a failure right after them is still answered with an HTTP status).
LEADING_TYPES = frozenset({"start", "citation", "agent", "options", "products", "memory"})


def metadata_payload(meta: StreamMetadata) -> dict[str, Any]:
    """The metadata as clients read it: `latency`/`ttft` are the older names of
    `latency_ms`/`ttft_ms` (the web app and the original client read both)."""
    out: dict[str, Any] = {
        "query_id": meta.query_id,
        "stream_id": meta.stream_id,
        "provider": meta.provider,
        "model": meta.model,
        "status": meta.status,
        "finish_reason": meta.finish_reason,
        "latency": meta.latency_ms,
        "latency_ms": meta.latency_ms,
        "ttft": meta.ttft_ms,
        "ttft_ms": meta.ttft_ms,
        "tokens": meta.usage.model_dump() if meta.usage is not None else None,
        "cost_usd": meta.cost_usd,
        "supports_cot": meta.supports_cot,
        "chain_of_thought": (
            meta.chain_of_thought.model_dump() if meta.chain_of_thought is not None else None
        ),
    }
    if meta.grounding is not None:
        out["grounding"] = meta.grounding.model_dump()
    return out


def payload(frame: StreamFrame) -> dict[str, Any]:
    """The platform payload: what a buffer stores and the platform formats send."""
    match frame:
        case TokenFrame(content=content):
            return {"type": "token", "content": content}
        case ThoughtFrame(content=content):
            return {"type": "thought", "content": content}
        case CitationFrame(citation=citation):
            return {"type": "citation", "citation": citation.model_dump()}
        case StartFrame():
            return {
                "type": "start",
                "stream_id": frame.stream_id,
                "query_id": frame.query_id,
                "user_id": frame.user_id,
                "instance_id": frame.instance_id,
                "provider": frame.provider,
                "model": frame.model,
                "supports_cot": frame.supports_cot,
            }
        case ToolCallFrame():
            return {
                "type": "tool_call",
                "id": frame.id,
                "name": frame.name,
                "arguments": frame.arguments,
            }
        case UsageFrame(usage=usage):
            return {"type": "usage", "usage": usage.model_dump()}
        case DoneFrame(metadata=meta):
            return {"type": "done", "metadata": metadata_payload(meta)}
        case ErrorFrame():
            out: dict[str, Any] = {
                "type": "error",
                "error": frame.error,
                "code": frame.code,
                "status": frame.status,
                "http_status": frame.http_status,
            }
            if frame.metadata is not None:
                out["retry_after"] = frame.retry_after
                out["metadata"] = metadata_payload(frame.metadata)
            elif frame.retry_after is not None:
                out["retry_after"] = frame.retry_after
            return out
        case NoticeFrame(message=message):
            return {"type": "notice", "message": message}
        case AgentFrame():
            return {
                "type": "agent",
                "agent": frame.agent,
                "step_id": frame.step_id,
                "status": frame.status,
                "duration_ms": frame.duration_ms,
                "summary": frame.summary,
            }
        case OptionsFrame():
            return {
                "type": "options",
                "question": frame.question,
                "field": frame.field,
                "options": list(frame.options),
            }
        case ProductsFrame(products=products):
            return {"type": "products", "products": list(products)}
        case MemoryFrame(used=used, changes=changes):
            return {
                "type": "memory",
                "used": [{"id": m.id, "text": m.text} for m in used],
                "changes": [{"action": c.action, "id": c.id, "text": c.text} for c in changes],
            }


_AGENT_STATUSES: frozenset[str] = frozenset({"started", "ok", "error", "skipped"})


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _agent(data: dict[str, Any]) -> AgentFrame:
    status = str(data.get("status") or "")
    duration = data.get("duration_ms")
    return AgentFrame(
        agent=str(data.get("agent") or ""),
        step_id=str(data.get("step_id") or ""),
        status=status if status in _AGENT_STATUSES else "error",  # type: ignore[arg-type]
        duration_ms=float(duration) if isinstance(duration, int | float) else None,
        summary=str(data.get("summary") or ""),
    )


def _memory(data: dict[str, Any]) -> MemoryFrame:
    return MemoryFrame(
        used=tuple(
            MemoryUsed(str(m.get("id") or ""), str(m.get("text") or ""))
            for m in _dicts(data.get("used"))
        ),
        changes=tuple(
            MemoryChangeItem(
                str(c.get("action") or ""),
                None if c.get("id") is None else str(c["id"]),
                str(c.get("text") or ""),
            )
            for c in _dicts(data.get("changes"))
        ),
    )


def _metadata(data: Any) -> StreamMetadata | None:
    if not isinstance(data, dict):
        return None
    tokens = data.get("tokens")
    cot = data.get("chain_of_thought")
    grounding = data.get("grounding")
    return StreamMetadata(
        query_id=data.get("query_id"),
        stream_id=data.get("stream_id"),
        provider=data.get("provider"),
        model=data.get("model"),
        status=data.get("status"),
        finish_reason=data.get("finish_reason"),
        latency_ms=data.get("latency_ms", data.get("latency")),
        ttft_ms=data.get("ttft_ms", data.get("ttft")),
        usage=Usage.model_validate(tokens) if tokens is not None else None,
        cost_usd=data.get("cost_usd"),
        supports_cot=data.get("supports_cot"),
        chain_of_thought=ChainOfThought.model_validate(cot) if cot is not None else None,
        grounding=GroundingInfo.model_validate(grounding) if grounding is not None else None,
    )


def parse(data: dict[str, Any]) -> StreamFrame | None:
    """A stored payload as its frame; None for a kind this version does not know (a newer
    instance's, during a rolling upgrade: readers skip it)."""
    match data.get("type"):
        case "token":
            return TokenFrame(str(data.get("content") or ""))
        case "thought":
            return ThoughtFrame(str(data.get("content") or ""))
        case "citation":
            return CitationFrame(Citation.model_validate(data.get("citation") or {}))
        case "start":
            return StartFrame(
                stream_id=str(data.get("stream_id") or ""),
                query_id=str(data.get("query_id") or ""),
                user_id=data.get("user_id"),
                instance_id=data.get("instance_id"),
                provider=str(data.get("provider") or ""),
                model=str(data.get("model") or ""),
                supports_cot=bool(data.get("supports_cot")),
            )
        case "tool_call":
            return ToolCallFrame(
                id=str(data.get("id") or ""),
                name=str(data.get("name") or ""),
                arguments=str(data.get("arguments") or "{}"),
            )
        case "usage":
            return UsageFrame(Usage.model_validate(data.get("usage") or {}))
        case "done":
            return DoneFrame(_metadata(data.get("metadata")) or StreamMetadata())
        case "error":
            retry_after = data.get("retry_after")
            return ErrorFrame(
                error=str(data.get("error") or "The model provider failed"),
                code=str(data.get("code") or "provider_error"),
                status=str(data.get("status") or "error"),
                http_status=int(data.get("http_status") or 502),
                retry_after=str(retry_after) if retry_after else None,
                metadata=_metadata(data.get("metadata")),
            )
        case "notice":
            return NoticeFrame(str(data.get("message") or ""))
        case "agent":
            return _agent(data)
        case "options":
            options = data.get("options")
            return OptionsFrame(
                question=str(data.get("question") or ""),
                options=tuple(str(o) for o in options) if isinstance(options, list) else (),
                field=None if data.get("field") is None else str(data["field"]),
            )
        case "products":
            return ProductsFrame(tuple(_dicts(data.get("products"))))
        case "memory":
            return _memory(data)
    return None


class Frame:
    """One numbered frame of a stream. `id` counts from 1 within the stream; `body` is the
    typed frame, `data` its stored platform payload (with `type`). Either is derived from
    the other once, when first needed: a frame a generation appended has its body, one read
    back from storage its payload."""

    __slots__ = ("_body", "_data", "_json", "id", "type")

    def __init__(
        self,
        id: int,
        type: str,
        data: dict[str, Any] | None = None,
        _json: bytes | None = None,
        _body: StreamFrame | None = None,
    ) -> None:
        self.id, self.type, self._data, self._json, self._body = id, type, data, _json, _body

    @classmethod
    def of(cls, frame_id: int, body: StreamFrame) -> Frame:
        return cls(frame_id, body.type, None, None, body)

    @property
    def body(self) -> StreamFrame | None:
        """The typed frame (None: a kind this version does not know)."""
        if self._body is None:
            self._body = parse(self.data)
        return self._body

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            assert self._body is not None
            self._data = payload(self._body)
        return self._data

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_TYPES

    def json(self) -> bytes:
        """The payload as JSON, encoded once however many readers send it."""
        if self._json is None:
            self._json = orjson.dumps(self.data)
        return self._json

    def __repr__(self) -> str:
        return f"Frame(id={self.id}, type={self.type!r}, body={self.body!r})"

    @classmethod
    def from_json(cls, frame_id: int, raw: bytes) -> Frame:
        data = orjson.loads(raw)
        return cls(frame_id, str(data.get("type", "")), data, raw)
