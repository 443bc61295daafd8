"""`<think>…</think>` splitting, with tags cut at every possible chunk boundary."""

from __future__ import annotations

import pytest

from llm_platform.providers.base import ReasoningDelta, TextDelta
from llm_platform.providers.think_tags import ThinkTagSplitter

STREAM = "<think>Let me see: 2 < 3 and </th is not a tag.</think>\n\nThe answer is <b>yes</b>."
REASONING = "Let me see: 2 < 3 and </th is not a tag."
ANSWER = "The answer is <b>yes</b>."


def split(chunks: list[str]) -> tuple[str, str, list[str]]:
    splitter = ThinkTagSplitter()
    events: list[ReasoningDelta | TextDelta] = []
    for chunk in chunks:
        events.extend(splitter.feed(chunk))
    events.extend(splitter.flush())
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    order: list[str] = []
    for event in events:
        if not order or order[-1] != event.type:
            order.append(event.type)
    return reasoning, text, order


def test_whole_stream_at_once() -> None:
    assert split([STREAM]) == (REASONING, ANSWER, ["reasoning", "text"])


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9])
def test_fixed_size_chunks(size: int) -> None:
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert split(chunks) == (REASONING, ANSWER, ["reasoning", "text"])


def test_every_two_way_cut() -> None:
    for cut in range(1, len(STREAM)):
        assert split([STREAM[:cut], STREAM[cut:]]) == (REASONING, ANSWER, ["reasoning", "text"])


def test_text_without_tags_passes_through_and_partial_tag_is_released_at_end() -> None:
    assert split(["Plain answer <thi"]) == ("", "Plain answer <thi", ["text"])


def test_unclosed_think_stays_reasoning() -> None:
    assert split(["<think>still thinking", " when the stream ended"]) == (
        "still thinking when the stream ended",
        "",
        ["reasoning"],
    )


def test_text_before_reasoning_is_kept_in_order() -> None:
    assert split(["Hi <think>hmm</think>there"]) == (
        "hmm",
        "Hi there",
        ["text", "reasoning", "text"],
    )


def test_holds_back_only_what_could_be_a_tag() -> None:
    splitter = ThinkTagSplitter()
    assert splitter.feed("Hello <") == [TextDelta(text="Hello ")]
    assert splitter.feed("p>") == [TextDelta(text="<p>")]
