"""What a fake vendor answers: the same knobs for every vendor, rendered in its wire format."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class Scenario:
    """The answer a fake streams for the next successful request.

    Mutate a fake's `scenario` (or assign a new one) in a test; `fail_next(...)` on the
    fake overrides it with an HTTP error for the next request(s).
    """

    reasoning: list[str] = field(default_factory=lambda: ["Let me think", " about this."])
    text: list[str] = field(default_factory=lambda: ["Hello", " world", "!"])
    input_tokens: int = 12
    output_tokens: int = 34  # includes reasoning tokens (as vendors bill them)
    reasoning_tokens: int = 20
    cached_tokens: int = 4
    first_delay: float = 0.0  # seconds before the first chunk (first-token timeouts)
    delay: float = 0.0  # seconds between chunks
    # Stream the vendor's mid-stream error event after this many content chunks
    # (reasoning + text pieces), instead of finishing.
    error_after: int | None = None
    error_message: str = "The server had an error while processing your request"
    # Keep the response open after the last content chunk (no end-of-stream), until the
    # client disconnects: for "stopping the consumer closes upstream" tests.
    hold_open: bool = False
    # Cut the TCP connection after this many content chunks (a dropped upstream).
    drop_after: int | None = None
    # Tool calls (id, name, JSON arguments) streamed after the text in each vendor's format
    # (Chat Completions and Responses: arguments in pieces; Anthropic: `tool_use` blocks
    # with `input_json_delta`s; Gemini: whole `functionCall` parts), ending the turn with
    # the vendor's tool-use stop reason.
    tool_calls: list[tuple[str, str, str]] = field(default_factory=list)
    signature: str = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"  # Anthropic

    def content(self) -> list[tuple[str, str]]:
        """("reasoning" | "text", piece) in stream order."""
        return [("reasoning", r) for r in self.reasoning] + [("text", t) for t in self.text]

    def cut(self) -> int | None:
        """How many content pieces to send before an error or a drop (None: all)."""
        if self.error_after is not None:
            return self.error_after
        return self.drop_after

    def until_cut(self, sequence: Iterable[tuple[bool, bytes]]) -> list[bytes]:
        """The wire chunks, given as (is content, bytes) in order, up to the cut: after
        `cut()` content chunks (all of them when there is no cut)."""
        cut = self.cut()
        chunks: list[bytes] = []
        sent = 0
        for is_content, data in sequence:
            if is_content:
                if cut is not None and sent >= cut:
                    break
                sent += 1
            chunks.append(data)
        return chunks
