"""The one server-sent events decoder, against the examples of the WHATWG HTML standard
(section 9.2, "Server-sent events") under every line ending and every way of cutting the
stream into reads."""

from __future__ import annotations

import pytest

from llm_platform.providers.sse import ServerSentEvent, SSEDecoder, decode

# (stream, events as (type, data, last event id)), from the standard's examples.
WHATWG = [
    pytest.param(
        "data: YHOO\ndata: +2\ndata: 10\n\n",
        [("message", "YHOO\n+2\n10", "")],
        id="multi-line data",
    ),
    pytest.param(
        ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
        "data:  third event\n\n",
        [
            ("message", "first event", "1"),
            ("message", "second event", ""),
            ("message", " third event", ""),
        ],
        id="comments, ids and one space removed",
    ),
    pytest.param(
        "data\n\ndata\ndata\n\ndata:",
        [("message", "", ""), ("message", "\n", "")],
        id="empty data, and an unfinished last event discarded",
    ),
    pytest.param(
        "data:test\n\ndata: test\n\n",
        [("message", "test", ""), ("message", "test", "")],
        id="the space after the colon is optional",
    ),
    pytest.param(
        "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
        [("add", "73857293", ""), ("remove", "2153", ""), ("add", "113411", "")],
        id="event types",
    ),
]


def triples(events: list[ServerSentEvent]) -> list[tuple[str, str, str]]:
    return [(e.event, e.text, e.id) for e in events]


def in_reads(body: bytes, cuts: list[int]) -> list[ServerSentEvent]:
    decoder, events, start = SSEDecoder(), [], 0
    for cut in [*cuts, len(body)]:
        events += decoder.feed(body[start:cut])
        start = cut
    return events


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"], ids=["LF", "CR", "CRLF"])
@pytest.mark.parametrize(("stream", "expected"), WHATWG)
def test_whatwg_examples(stream: str, expected: list[tuple[str, str, str]], newline: str) -> None:
    body = stream.replace("\n", newline).encode()
    assert triples(decode(body)) == expected
    for cut in range(len(body) + 1):  # every place one read may end and the next begin
        assert triples(in_reads(body, [cut])) == expected, cut
    assert triples(in_reads(body, list(range(1, len(body))))) == expected  # a byte per read


def test_crlf_split_between_reads_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert triples(decoder.feed(b"\n\r")) == [("message", "a", "")]
    assert decoder.feed(b"\ndata: b\r\n\r\n") == [ServerSentEvent(b"b")]


def test_mixed_line_endings_in_one_stream() -> None:
    events = decode(b"data: 1\rdata: 2\r\ndata: 3\n\r\nevent: x\rdata: 4\n\n")
    assert triples(events) == [("message", "1\n2\n3", ""), ("x", "4", "")]


def test_byte_order_mark_dropped_once_even_split() -> None:
    body = "\ufeffdata: a\n\n\ufeffdata: b\n\n".encode()
    assert [e.data for e in decode(body)] == [b"a"]  # a second BOM is a field named "\ufeffdata"
    for cut in range(4):
        assert [e.data for e in in_reads(body, [cut])] == [b"a"]


def test_id_persists_resets_and_rejects_nul() -> None:
    events = decode(b"id: 7\ndata: a\n\ndata: b\n\nid: 8\0\ndata: c\n\nid\ndata: d\n\n")
    assert [(e.data, e.id) for e in events] == [(b"a", "7"), (b"b", "7"), (b"c", "7"), (b"d", "")]


def test_retry_only_digits_and_unknown_fields_ignored() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"retry: 1500\ndata: a\n\nretry: 1.5\nretry: x\nfoo: bar\ndata: b\n\n")
    assert [(e.data, e.retry) for e in events] == [(b"a", 1500), (b"b", None)]
    assert decoder.retry == 1500


def test_event_type_resets_after_each_event_and_on_empty_blocks() -> None:
    events = decode(b"event: a\n\ndata: 1\n\nevent: b\ndata: 2\n\ndata: 3\n\n")
    assert triples(events) == [("message", "1", ""), ("b", "2", ""), ("message", "3", "")]


def test_comments_anywhere_and_utf8_data() -> None:
    body = ":hi\ndata: caf\u00e9\n: between\ndata: \u2603\n\n:\n\n".encode()
    events = decode(body)
    assert [e.text for e in events] == ["caf\u00e9\n\u2603"]
    assert events[0].data == "caf\u00e9\n\u2603".encode()


def test_end_returns_the_unfinished_event_for_lenient_callers() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: 1\n\ndata: {"a"') == [ServerSentEvent(b"1")]
    last = decoder.end()
    assert last is not None and last.data == b'{"a"'
    assert SSEDecoder().end() is None
