"""Server-sent events, decoded as the WHATWG HTML standard says (section 9.2.6, "Interpreting
an event stream"), on bytes: the one decoder for every reader of an event stream in this
repository (provider adapters, tests, benchmarks).

- lines end with CRLF, LF or a lone CR, also when a CRLF is split between two reads;
- a UTF-8 byte order mark at the start of the stream is dropped (once);
- `data` lines of one event are joined with LF; `event` sets the type (default `message`,
  reset after each event); `id` sets the last event id (kept for the following events;
  ignored if it contains NUL); `retry` sets the reconnection time when all ASCII digits;
  other fields are ignored; a line starting with `:` is a comment;
- an empty line dispatches the event, unless it has no data (then only the type resets);
- one space after the colon is removed, no more.

Data stays bytes (orjson parses bytes directly; no decode per line on the hot path): `text`
decodes it. At the end of the stream the spec discards an event not ended by an empty line;
`SSEDecoder.end()` returns it instead, for callers that choose to be lenient.

httpx-sse (the well-kept library for this) reads decoded text lines through httpx's own
line splitter and strips no BOM; this module is used on the gateway's hot path, where
splitting the raw bytes costs less than decoding every chunk first (bench/gateway.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import NamedTuple

_BOM = b"\xef\xbb\xbf"


class ServerSentEvent(NamedTuple):  # a tuple: the cheapest record to build per event
    data: bytes
    event: str = "message"
    id: str = ""  # the last event id when this event was dispatched
    retry: int | None = None  # a reconnection time (ms) set by this event's block

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


class SSEDecoder:
    """Incremental: `feed` the bytes as they arrive, get the events they complete."""

    __slots__ = ("_cr", "_data", "_event", "_id", "_pending", "_retry", "_started", "retry")

    def __init__(self) -> None:
        self._pending = b""  # an unfinished line
        self._cr = False  # the last read ended with CR: a LF opening the next one is its pair
        self._started = False  # past a possible byte order mark
        self._data: list[bytes] = []
        self._event = ""
        self._id = ""
        self._retry: int | None = None
        self.retry: int | None = None  # the stream's reconnection time, once set

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if not chunk:
            return []
        if self._cr:
            self._cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                self._cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if self._pending:
            chunk = self._pending + chunk
        if not self._started:
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._pending = chunk
                return []
            self._started = True
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        lines = chunk.split(b"\n")
        self._pending = lines.pop()
        events: list[ServerSentEvent] = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(self._dispatch())
                else:
                    self._event, self._retry = "", None
            elif line.startswith(b"data:"):  # the common case first
                self._data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line[0] != 0x3A:  # ":" opens a comment
                self._field(line)
        return events

    def _field(self, line: bytes) -> None:
        name, colon, value = line.partition(b":")
        if colon and value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id" and b"\0" not in value:
            self._id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():  # False for b""
            self._retry = self.retry = int(value)

    def _dispatch(self) -> ServerSentEvent:
        data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        event = ServerSentEvent(data, self._event or "message", self._id, self._retry)
        self._data, self._event, self._retry = [], "", None
        return event

    def end(self) -> ServerSentEvent | None:
        """At the end of the stream: the event an empty line did not end (the standard
        discards it), its last line included."""
        if self._pending:
            self.feed(b"\n")
        return self._dispatch() if self._data else None


def decode(body: bytes) -> list[ServerSentEvent]:
    """Every event of a whole stream (an unfinished last event is discarded)."""
    return SSEDecoder().feed(body)


def decode_text(body: str) -> list[ServerSentEvent]:
    return decode(body.encode())


async def aiter_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """The events of a stream read in chunks (an unfinished last event is discarded)."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
