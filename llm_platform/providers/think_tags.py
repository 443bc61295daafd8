"""Split `<think>…</think>` reasoning out of a text stream (local and compatible servers).

Models served by Ollama, vLLM (without a reasoning parser), llama.cpp server or LM Studio
often write their reasoning inline. Tags can arrive split across chunks (`"<th"`, `"ink>"`),
so the splitter holds back any tail that could still become a tag and releases it once the
next chunk decides.
"""

from __future__ import annotations

from llm_platform.providers.base import ReasoningDelta, TextDelta

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


def _partial_tag_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkTagSplitter:
    """Feed text chunks, get reasoning and text events in order."""

    def __init__(self, *, open_tag: str = OPEN_TAG, close_tag: str = CLOSE_TAG) -> None:
        self.open_tag = open_tag
        self.close_tag = close_tag
        self._buffer = ""
        self._in_reasoning = False
        self._strip_next_text = False  # drop the blank line models write after </think>

    @property
    def in_reasoning(self) -> bool:
        return self._in_reasoning

    def feed(self, chunk: str) -> list[ReasoningDelta | TextDelta]:
        self._buffer += chunk
        out: list[ReasoningDelta | TextDelta] = []
        while self._buffer:
            tag = self.close_tag if self._in_reasoning else self.open_tag
            index = self._buffer.find(tag)
            if index >= 0:
                self._emit(out, self._buffer[:index])
                self._buffer = self._buffer[index + len(tag) :]
                self._in_reasoning = not self._in_reasoning
                self._strip_next_text = not self._in_reasoning
                continue
            keep = _partial_tag_suffix(self._buffer, tag)
            ready = self._buffer[: len(self._buffer) - keep]
            self._buffer = self._buffer[len(ready) :]
            self._emit(out, ready)
            break
        return out

    def flush(self) -> list[ReasoningDelta | TextDelta]:
        """End of stream: whatever was held back is plain content of the current kind."""
        out: list[ReasoningDelta | TextDelta] = []
        self._emit(out, self._buffer)
        self._buffer = ""
        return out

    def _emit(self, out: list[ReasoningDelta | TextDelta], text: str) -> None:
        if self._in_reasoning:
            if text:
                out.append(ReasoningDelta(text=text))
            return
        if self._strip_next_text:
            text = text.lstrip("\r\n")
            if text:
                self._strip_next_text = False
        if text:
            out.append(TextDelta(text=text))
