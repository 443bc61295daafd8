"""The legacy stream encoder on its own: platform stream frames in, the old client's lines out."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from typing import Any

from llm_platform.api.legacy.stream import (
    STATUS_TAIL_CHARS,
    ChunkFrame,
    LegacyStreamEncoder,
    StatusFrame,
    encode_frame,
)
from llm_platform.services.streams.formats import sse_stream
from llm_platform.services.streams.frames import Frame
from tests.support.legacy_client import ChatView, read_stream


async def _pieces(data: bytes, size: int) -> AsyncIterator[str]:
    # Arbitrary network chunking: frames split mid-line (even mid-character), decoded the
    # way TextDecoder({stream: true}) does.
    decoder = codecs.getincrementaldecoder("utf-8")()
    for i in range(0, len(data), size):
        yield decoder.decode(data[i : i + size])


async def _nothing() -> AsyncIterator[Frame | None]:
    return
    yield


async def encode(frames: list[dict[str, Any]]) -> bytes:
    """Through the stream writer the v1 endpoint uses, with the legacy encoder."""
    head = [Frame(id=i + 1, type=f["type"], data=f) for i, f in enumerate(frames)]
    return b"".join([b async for b in sse_stream(head, _nothing(), LegacyStreamEncoder().encode)])


async def test_reasoning_text_citations_final_done() -> None:
    frames = [
        {"type": "notice", "message": "openai is not configured: answering with local"},
        {"type": "start", "query_id": "q1", "model": "m-1"},
        {"type": "thought", "content": "The user asks "},
        {"type": "thought", "content": "about Oslo.\nCheck"},
        {"type": "thought", "content": " the population."},
        {"type": "token", "content": "Oslo has "},
        {"type": "token", "content": "about 700k people."},
        {"type": "citation", "citation": {"title": "SSB", "url": "https://ssb.no", "page": None}},
        {"type": "citation", "citation": {"file_id": "f1", "file_name": "notes.pdf", "page": 3}},
        {"type": "usage", "usage": {"input_tokens": 5, "output_tokens": 7}},
        {"type": "done", "metadata": {"model": "m-1", "provider": "scripted", "query_id": "q1"}},
        {"type": "token", "content": "never sent: after [DONE]"},
    ]
    data = await encode(frames)
    for size in (1, 7, len(data)):
        view = ChatView(await read_stream(_pieces(data, size)))
        # A new reasoning line replaces the shown one.
        assert view.statuses == [
            "openai is not configured: answering with local",
            "The user asks",
            "Check",
            "Check the population.",
        ]
        assert view.chunks == ["Oslo has ", "about 700k people."]
        assert view.citations == [
            {"title": "SSB", "url": "https://ssb.no"},
            {"title": "notes.pdf", "url": "", "file_id": "f1", "file_name": "notes.pdf", "page": 3},
        ]
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
    frames = await read_stream(_pieces(frame + b"data: [DONE]\n\n", 1000))
    message = frames[0]["message"]
    assert message.startswith("…") and len(message) <= STATUS_TAIL_CHARS
    assert enc.reasoning("\n") is not None  # still shows the finished line
    assert enc.reasoning("   ") is None  # nothing to show: the shown line stays


async def test_error_frame_ends_the_stream() -> None:
    data = await encode(
        [
            {"type": "token", "content": "partial"},
            {"type": "error", "error": "upstream went away", "status": "incomplete"},
        ]
    )
    view = ChatView(await read_stream(_pieces(data, 5)))
    assert view.answer == "partial" and view.errors == ["upstream went away"] and view.done


async def test_text_with_newlines_and_quotes_stays_one_frame() -> None:
    text = 'Line one\n\n- "quoted" \\ item\r\n'
    data = await encode([{"type": "token", "content": text}, {"type": "done", "metadata": {}}])
    view = ChatView(await read_stream(_pieces(data, 3)))
    assert view.chunks == [text] and view.done
    # The hand-written per-token frames are the models' frames.
    enc = LegacyStreamEncoder()
    assert enc.frame("token", {"content": text}) == encode_frame(ChunkFrame(content=text))
    assert enc.status(text) == encode_frame(StatusFrame(message=text))
