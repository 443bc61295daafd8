"""The legacy stream encoder on its own: provider events in, the old client's frames out."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator

from llm_platform.api.compat.stream import (
    DONE,
    STATUS_TAIL_CHARS,
    FinalMetadata,
    LegacyStreamEncoder,
)
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
from tests.api.compat.legacy_client import ChatView, read_stream


async def _pieces(data: bytes, size: int) -> AsyncIterator[str]:
    # Arbitrary network chunking: frames split mid-line (even mid-character), decoded the
    # way TextDecoder({stream: true}) does.
    decoder = codecs.getincrementaldecoder("utf-8")()
    for i in range(0, len(data), size):
        yield decoder.decode(data[i : i + size])


def encode(events: list[StreamEvent]) -> bytes:
    enc = LegacyStreamEncoder()
    out = [b for b in (enc.event(e) for e in events) if b]
    out.append(enc.final(FinalMetadata(model="m-1", provider="scripted", query_id="q1")))
    out.append(DONE)
    return b"".join(out)


async def test_reasoning_text_citations_final_done() -> None:
    events: list[StreamEvent] = [
        ReasoningDelta(text="The user asks "),
        ReasoningDelta(text="about Oslo.\nCheck"),
        ReasoningDelta(text=" the population."),
        ToolCallEvent(id="t1", name="web_search", arguments="{}"),
        TextDelta(text="Oslo has "),
        TextDelta(text="about 700k people."),
        CitationEvent(title="Statistics Norway", url="https://ssb.no", snippet="..."),
        CitationEvent(file_id="f1", file_name="notes.pdf", page=3),
        UsageEvent(input_tokens=5, output_tokens=7),
        DoneEvent(finish_reason="stop"),
    ]
    data = encode(events)
    for size in (1, 7, len(data)):
        frames = await read_stream(_pieces(data, size))
        view = ChatView(frames)
        assert view.statuses == [
            "The user asks",
            "Check",  # a new reasoning line replaces the shown one
            "Check the population.",
            "Using web_search…",
        ]
        assert view.chunks == ["Oslo has ", "about 700k people."]
        assert view.citations[0] == {
            "title": "Statistics Norway",
            "url": "https://ssb.no",
            "snippet": "...",
        }
        assert view.citations[1] == {
            "title": "notes.pdf",
            "url": "",
            "file_id": "f1",
            "file_name": "notes.pdf",
            "page": 3,
        }
        assert view.final == {
            "type": "final",
            "options": [],
            "memory_context": {},
            "metadata": {"model": "m-1", "provider": "scripted", "query_id": "q1"},
        }
        assert view.done and view.errors == []
    # Every frame is one `data:` line followed by a blank line.
    assert all(part.startswith(b"data: ") for part in data.split(b"\n\n") if part)


async def test_long_reasoning_line_shows_its_tail() -> None:
    enc = LegacyStreamEncoder()
    frame = enc.reasoning("word " * 100)
    assert frame is not None
    frames = await read_stream(_pieces(frame + DONE, 1000))
    message = frames[0]["message"]
    assert message.startswith("…") and len(message) <= STATUS_TAIL_CHARS
    assert enc.reasoning("\n") is not None  # still shows the finished line
    assert enc.reasoning("   ") is None  # nothing to show: the shown line stays


async def test_error_frame() -> None:
    data = encode([TextDelta(text="partial"), ErrorEvent(message="upstream went away")])
    view = ChatView(await read_stream(_pieces(data, 5)))
    assert view.answer == "partial" and view.errors == ["upstream went away"]
