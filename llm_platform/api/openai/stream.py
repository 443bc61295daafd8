"""The OpenAI wire format of an answer: `chat.completion.chunk` SSE lines for the stream
frames, and the usage and finish reason as OpenAI clients read them."""

from __future__ import annotations

import orjson

from llm_platform.schemas.openai import (
    CompletionTokensDetails,
    CompletionUsage,
    OpenAIErrorBody,
    PromptTokensDetails,
)
from llm_platform.schemas.query import Usage
from llm_platform.services.streams.frames import (
    CitationFrame,
    DoneFrame,
    ErrorFrame,
    Frame,
    StartFrame,
    ThoughtFrame,
    TokenFrame,
    ToolCallFrame,
)

# Tool-call arguments go out in pieces of this many characters, as OpenAI streams them.
ARGUMENT_PIECE = 64


def finish_reason(status: str | None, reason: str | None) -> str:
    if status != "ok":
        return "stop" if status == "cancelled" else "error"
    return reason if reason in ("stop", "length", "tool_calls", "content_filter") else "stop"


def completion_usage(usage: Usage | None) -> CompletionUsage:
    usage = usage or Usage()
    prompt = usage.input_tokens or 0
    completion = usage.output_tokens or 0
    return CompletionUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=usage.cached_tokens or 0),
        completion_tokens_details=CompletionTokensDetails(
            reasoning_tokens=usage.reasoning_tokens or 0
        ),
    )


class ChunkEncoder:
    """Stream frames as `chat.completion.chunk` SSE lines (JSON prefix encoded once)."""

    def __init__(self, chunk_id: str, created: int, model: str, include_usage: bool) -> None:
        self.prefix = (
            b'data: {"id":'
            + orjson.dumps(chunk_id)
            + b',"object":"chat.completion.chunk","created":'
            + str(created).encode()
            + b',"model":'
            + orjson.dumps(model)
        )
        self.include_usage = include_usage
        self.tool_calls = 0

    def chunk(self, delta: dict[str, object], finish: str | None = None) -> bytes:
        return (
            self.prefix
            + b',"choices":[{"index":0,"delta":'
            + orjson.dumps(delta)
            + b',"finish_reason":'
            + orjson.dumps(finish)
            + b"}]}\n\n"
        )

    def encode(self, frame: Frame) -> bytes | None:
        match frame.body:
            case TokenFrame(content=content):
                return self.chunk({"content": content})
            case ThoughtFrame(content=content):
                return self.chunk({"reasoning_content": content})
            case StartFrame():
                return self.chunk({"role": "assistant", "content": ""})
            case ToolCallFrame() as call:
                return self.tool_call(call)
            case DoneFrame(metadata=meta):
                out = self.chunk({}, finish_reason(meta.status, meta.finish_reason))
                if self.include_usage:
                    usage = completion_usage(meta.usage).model_dump()
                    out += self.prefix + b',"choices":[],"usage":' + orjson.dumps(usage) + b"}\n\n"
                return out
            case ErrorFrame(error=error, code=code, http_status=status):
                return b"data: " + orjson.dumps(OpenAIErrorBody.of(status, error, code)) + b"\n\n"
            case CitationFrame(citation=citation):  # before the first token: an extension
                return (
                    self.prefix
                    + b',"choices":[{"index":0,"delta":{},"finish_reason":null}],"citations":['
                    + orjson.dumps(citation.model_dump())
                    + b"]}\n\n"
                )
        return None  # usage frames: usage comes with `done`

    def tool_call(self, frame: ToolCallFrame) -> bytes:
        """`delta.tool_calls` chunks as OpenAI sends them: the call's index, id, type and
        name with empty arguments first, then the arguments in pieces (index only)."""
        index, self.tool_calls = self.tool_calls, self.tool_calls + 1
        head = {
            "index": index,
            "id": frame.id,
            "type": "function",
            "function": {"name": frame.name, "arguments": ""},
        }
        out = [self.chunk({"tool_calls": [head]})]
        arguments = frame.arguments
        for start in range(0, len(arguments), ARGUMENT_PIECE):
            piece = arguments[start : start + ARGUMENT_PIECE]
            out.append(
                self.chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            )
        return b"".join(out)
