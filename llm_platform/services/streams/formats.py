"""The platform's wire formats for stream frames (SSE events, WebSocket messages: both carry
the frame's platform payload, see `frames.payload`), and the SSE writer every format uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable

from llm_platform.services.streams.frames import Frame

SSE_PING = b": ping\n\n"
SSE_DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
    "Connection": "keep-alive",
}


def sse_frame(frame: Frame) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (frame.id, frame.type.encode(), frame.json())


# Encodes one frame for the wire; None skips it (a format without that kind of frame).
FrameEncoder = Callable[[Frame], bytes | None]


async def sse_stream(
    head: Iterable[Frame],
    frames: AsyncIterator[Frame | None],
    encode: FrameEncoder = sse_frame,
) -> AsyncIterator[bytes]:
    """`head` (frames already read) then the rest; `: ping` on silence; `data: [DONE]`.
    `encode` picks the format (OpenAI chunks, the original client's lines)."""
    try:
        # The frames read before the response started go out in one write.
        first: list[bytes] = []
        for frame in head:
            if (data := encode(frame)) is not None:
                first.append(data)
            if frame.terminal:
                yield b"".join(first) + SSE_DONE
                return
        if first:
            yield b"".join(first)
        async for item in frames:
            if item is None:
                yield SSE_PING
                continue
            if (data := encode(item)) is not None:
                yield data
            if item.terminal:
                break
        yield SSE_DONE
    finally:
        aclose = getattr(frames, "aclose", None)
        if aclose is not None:
            await aclose()


def ws_message(frame: Frame, stream_id: str) -> dict[str, object]:
    """The WebSocket carries the same payloads, with the frame id and stream id added."""
    return {**frame.data, "id": frame.id, "stream_id": stream_id}
