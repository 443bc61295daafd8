"""The original client's stream format: `data: {"type": ...}` lines, then `data: [DONE]`.

The client reads the body with `fetch`, splits it on newlines, keeps lines starting with
`data: ` and parses them by `type`:

- `status`  {message}: shown (one line, replaced each time) as the "thinking" text;
- `chunk`   {content}: appended to the answer;
- `node`    {node_type: "citations", citations: [{title, url}]} or
            {node_type: "product_cards", product_cards: [...]}: accumulated;
- `final`   {options, memory_context, metadata: {model, ...}};
- `error`   {error}.

`LegacyStreamEncoder` turns one generation's provider events (`providers.base.StreamEvent`)
into those frames; it holds no logic beyond the format.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_platform.providers.base import (
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    UsageEvent,
)

MEDIA_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache", "Connection": "keep-alive", "X-Accel-Buffering": "no"}
DONE = b"data: [DONE]\n\n"

# The thinking text is one line in the old client (clipped with an ellipsis): it shows the
# reasoning line being written, its last characters when the line is long.
STATUS_TAIL_CHARS = 160


class StatusFrame(BaseModel):
    type: Literal["status"] = "status"
    message: str


class ChunkFrame(BaseModel):
    type: Literal["chunk"] = "chunk"
    content: str


class LegacyCitation(BaseModel):
    """`{title, url}` as the client renders it, plus what we know beyond (file, page...)."""

    model_config = ConfigDict(extra="allow")
    title: str
    url: str


class CitationsFrame(BaseModel):
    type: Literal["node"] = "node"
    node_type: Literal["citations"] = "citations"
    citations: list[LegacyCitation]


class ProductCard(BaseModel):
    model_config = ConfigDict(extra="allow")
    title: str
    url: str
    description: str | None = None
    price: str | None = None
    rating: float | None = None
    reviews_count: int | None = None
    image: str | None = None
    seller: str | None = None
    tag: str | None = None
    delivery: str | None = None


class ProductCardsFrame(BaseModel):
    type: Literal["node"] = "node"
    node_type: Literal["product_cards"] = "product_cards"
    product_cards: list[ProductCard]


class FinalMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str


class FinalFrame(BaseModel):
    type: Literal["final"] = "final"
    options: list[str] = Field(default_factory=list)
    memory_context: dict[str, Any] = Field(default_factory=dict)
    metadata: FinalMetadata


class ErrorFrame(BaseModel):
    type: Literal["error"] = "error"
    error: str


Frame = StatusFrame | ChunkFrame | CitationsFrame | ProductCardsFrame | FinalFrame | ErrorFrame


def encode_frame(frame: Frame) -> bytes:
    return b"data: " + frame.model_dump_json(exclude_none=True).encode() + b"\n\n"


def legacy_citation(event: CitationEvent) -> LegacyCitation:
    extra = event.model_dump(exclude={"type", "title", "url"}, exclude_none=True)
    title = event.title or event.file_name or event.url or "Source"
    return LegacyCitation(title=title, url=event.url or "", **extra)


class LegacyStreamEncoder:
    """One per response. Feed it events in order; it returns the bytes to send (or None)."""

    def __init__(self) -> None:
        self._line = ""  # the reasoning line being written

    def status(self, message: str) -> bytes:
        return encode_frame(StatusFrame(message=message))

    def reasoning(self, text: str) -> bytes | None:
        head, newline, tail = text.rpartition("\n")
        if newline:
            last_line = (self._line + head).rsplit("\n", 1)[-1].strip()
            self._line = tail
            current = tail.strip() or last_line
        else:
            self._line += text
            current = self._line.strip()
        if not current:
            return None
        if len(current) > STATUS_TAIL_CHARS:
            current = "…" + current[-(STATUS_TAIL_CHARS - 1) :].lstrip()
        return self.status(current)

    def chunk(self, text: str) -> bytes | None:
        return encode_frame(ChunkFrame(content=text)) if text else None

    def citations(self, events: list[CitationEvent]) -> bytes | None:
        if not events:
            return None
        return encode_frame(CitationsFrame(citations=[legacy_citation(e) for e in events]))

    def product_cards(self, cards: list[ProductCard]) -> bytes | None:
        return encode_frame(ProductCardsFrame(product_cards=cards)) if cards else None

    def final(self, metadata: FinalMetadata, options: list[str] | None = None) -> bytes:
        return encode_frame(FinalFrame(metadata=metadata, options=options or []))

    def error(self, message: str) -> bytes:
        return encode_frame(ErrorFrame(error=message))

    def event(self, event: StreamEvent) -> bytes | None:
        """A provider event as a frame. `done` and `usage` have none: the caller sends
        `final` (it knows the query's metadata) and then `DONE`."""
        match event:
            case ReasoningDelta():
                return self.reasoning(event.text)
            case TextDelta():
                return self.chunk(event.text)
            case CitationEvent():
                return self.citations([event])
            case ToolCallEvent():
                return self.status(f"Using {event.name}…")
            case ErrorEvent():
                return self.error(event.message)
            case UsageEvent() | DoneEvent():
                return None
        return None
