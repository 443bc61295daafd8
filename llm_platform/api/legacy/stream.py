"""The original client's stream format: `data: {"type": ...}` lines, then `data: [DONE]`.

The client reads the body with `fetch`, splits it on newlines, keeps lines starting with
`data: ` and parses them by `type`:

- `status`  {message}: shown (one line, replaced each time) as the "thinking" text;
- `chunk`   {content}: appended to the answer;
- `node`    {node_type: "citations", citations: [{title, url}]} or
            {node_type: "product_cards", product_cards: [...]}: accumulated;
- `final`   {options, memory_context, metadata: {model, ...}};
- `error`   {error}.

`LegacyStreamEncoder` turns the query service's typed stream frames
(`services.streams.frames`) into those lines; it holds no logic beyond the format.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from llm_platform.core.citation import Citation
from llm_platform.services.streams.frames import (
    AgentFrame,
    CitationFrame,
    DoneFrame,
    Frame,
    MemoryFrame,
    NoticeFrame,
    OptionsFrame,
    ProductsFrame,
    StreamFrame,
    ThoughtFrame,
    TokenFrame,
    metadata_payload,
    parse,
)
from llm_platform.services.streams.frames import ErrorFrame as StreamError

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


class ProductCardsFrame(BaseModel):
    type: Literal["node"] = "node"
    node_type: Literal["product_cards"] = "product_cards"
    product_cards: list[dict[str, Any]]


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


LegacyFrame = (
    StatusFrame | ChunkFrame | CitationsFrame | ProductCardsFrame | FinalFrame | ErrorFrame
)


def encode_frame(frame: LegacyFrame) -> bytes:
    return b"data: " + frame.model_dump_json(exclude_none=True).encode() + b"\n\n"


# The per-token frames, written directly (5x cheaper than through the models above, which
# they match field for field).
_CHUNK_HEAD = b'data: {"type":"chunk","content":'
_STATUS_HEAD = b'data: {"type":"status","message":'
_TAIL = b"}\n\n"


def memory_context(frame: MemoryFrame) -> dict[str, Any]:
    """`final.memory_context`: the memories used and changed."""
    return {
        "used": [{"id": m.id, "text": m.text} for m in frame.used],
        "changes": [{"action": c.action, "id": c.id, "text": c.text} for c in frame.changes],
    }


def agent_status(frame: AgentFrame) -> str:
    """An agent step as the one-line "thinking" text."""
    if frame.status == "started":
        return f"{frame.agent}: {frame.summary or 'working'}…"
    return f"{frame.agent}: {frame.summary or frame.status}"


def legacy_citation(citation: Citation) -> LegacyCitation:
    """A platform citation (`title`, `url`, `snippet`, `file_id`, `file_name`, `page`...)."""
    known = citation.model_dump(exclude_none=True, exclude={"title", "url"})
    title = citation.title or citation.file_name or citation.url or "Source"
    return LegacyCitation(title=title, url=citation.url or "", **known)


class LegacyStreamEncoder:
    """One per response. Feed it the stream's frames in order; it returns the bytes to send
    (None: nothing for this one). The stream writer adds `data: [DONE]` after the terminal
    frame (`done` or `error`), as for the platform format. A `notice` (what the
    compatibility layer did for the old client: a fallback provider or model) is shown as
    a `status` line, and so is each agent's step (not the coordinator's and the writer's:
    the thinking text and the answer show those); product cards are a `node`, the shopping
    options and the memory context go into `final`."""

    def __init__(self) -> None:
        self._line = ""  # the reasoning line being written
        self._options: list[str] = []
        self._memory: dict[str, Any] = {}

    def status(self, message: str) -> bytes:
        return _STATUS_HEAD + orjson.dumps(message) + _TAIL

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

    def encode(self, frame: Frame) -> bytes | None:
        return self.encode_body(frame.body)

    def frame(self, type_: str, data: dict[str, Any]) -> bytes | None:
        """A stored payload's bytes (`{"type": type_, **data}`)."""
        return self.encode_body(parse({**data, "type": type_}))

    def encode_body(self, body: StreamFrame | None) -> bytes | None:
        match body:
            case TokenFrame(content=content):
                return _CHUNK_HEAD + orjson.dumps(content) + _TAIL if content else None
            case ThoughtFrame(content=content):
                return self.reasoning(content)
            case NoticeFrame(message=message):
                return self.status(message)
            case CitationFrame(citation=citation):
                return encode_frame(CitationsFrame(citations=[legacy_citation(citation)]))
            case AgentFrame(agent=agent):
                # The coordinator and the writer are the turn itself (the thinking text and
                # the answer show it): the old client's one line shows the agents at work.
                if agent in ("coordinator", "writer"):
                    return None
                return self.status(agent_status(body))
            case ProductsFrame(products=products):
                return encode_frame(ProductCardsFrame(product_cards=list(products)))
            case OptionsFrame(options=options):
                self._options = list(options)
                return None
            case MemoryFrame():
                self._memory = memory_context(body)
                return None
            case DoneFrame(metadata=meta):
                metadata = metadata_payload(meta)
                if metadata["model"] is None:
                    metadata["model"] = ""
                final = FinalFrame(
                    options=self._options,
                    memory_context=self._memory,
                    metadata=FinalMetadata.model_validate(metadata),
                )
                return encode_frame(final)
            case StreamError(error=error):
                return encode_frame(ErrorFrame(error=error))
        return None  # start, usage: nothing the old client shows
