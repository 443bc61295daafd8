"""Chat Completions streaming through the `openai` SDK, shared by OpenAI itself and every
OpenAI-compatible server (DeepSeek, OpenRouter, Ollama, vLLM, llama.cpp server, LM Studio).

Reasoning arrives in different places depending on who serves the model:
`delta.reasoning_content` (DeepSeek, vLLM, llama.cpp server), `delta.reasoning` and
`delta.reasoning_details` (OpenRouter, Ollama), or inline `<think>…</think>` in the content
(servers without a reasoning parser). All of them become `ReasoningDelta`s.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from typing import Any

import httpx2
import openai
import orjson
from openai import AsyncOpenAI

from llm_platform.providers.base import (
    ChatMessage,
    ChatRequest,
    DoneEvent,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    UsageEvent,
)
from llm_platform.providers.error_mapping import (
    error_for_status,
    scrub,
    transport_error,
    unexpected_error,
)
from llm_platform.providers.errors import (
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from llm_platform.providers.sse import SSEDecoder
from llm_platform.providers.streaming import ErrorMapper
from llm_platform.providers.think_tags import ThinkTagSplitter

_FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter"}


def normalize_finish(reason: str | None) -> str | None:
    if reason is None:
        return None
    return _FINISH.get(
        reason, "tool_calls" if reason in ("tool_calls", "function_call") else reason
    )


def data_url(mime: str, data_b64: str) -> str:
    return f"data:{mime};base64,{data_b64}"


def chat_messages(request: ChatRequest, *, system_role: str = "system") -> list[dict[str, Any]]:
    """The request as Chat Completions messages (images as data-URL `image_url` parts)."""
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": system_role, "content": request.system})
    for message in request.messages:
        out.append(_chat_message(message, system_role))
    return out


def _chat_message(message: ChatMessage, system_role: str) -> dict[str, Any]:
    role = system_role if message.role == "system" else message.role
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in message.tool_calls
            ],
        }
    if not message.images or message.role != "user":
        return {"role": role, "content": message.content}
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
    parts.extend(
        {"type": "image_url", "image_url": {"url": data_url(image.mime, image.data_b64)}}
        for image in message.images
    )
    return {"role": role, "content": parts}


def tool_params(request: ChatRequest, *, json_schema: bool = True) -> dict[str, Any]:
    """`tools`, `tool_choice`, `parallel_tool_calls` and `response_format` as Chat
    Completions takes them. `json_schema=False`: a server that only knows JSON mode
    (`{"type": "json_object"}`, DeepSeek) gets that, the schema stays in the prompt."""
    params: dict[str, Any] = {}
    if request.tools:
        params["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": spec.name,
                    "description": spec.description,
                    "parameters": spec.parameters,
                },
            }
            for spec in request.tools
        ]
        choice = request.tool_choice
        if choice in ("auto", "none", "required"):
            params["tool_choice"] = choice
        elif choice:
            params["tool_choice"] = {"type": "function", "function": {"name": choice}}
        if request.parallel_tool_calls is not None:
            params["parallel_tool_calls"] = request.parallel_tool_calls
    if request.response_schema is not None:
        if json_schema:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "response",
                    "schema": request.response_schema,
                    "strict": False,
                },
            }
        else:
            params["response_format"] = {"type": "json_object"}
    return params


def usage_event(usage: dict[str, Any]) -> UsageEvent:
    """A chunk's `usage` (plus DeepSeek's `prompt_cache_hit_tokens`) as a usage event.
    `output_tokens` includes reasoning tokens, as vendors bill them."""
    completion = usage.get("completion_tokens_details") or {}
    prompt = usage.get("prompt_tokens_details") or {}
    cached = prompt.get("cached_tokens")
    if cached is None:
        cached = usage.get("prompt_cache_hit_tokens")
    return UsageEvent(
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        reasoning_tokens=completion.get("reasoning_tokens"),
        cached_tokens=cached,
    )


def reasoning_from_delta(delta: dict[str, Any]) -> list[ReasoningDelta]:
    """Reasoning carried by a chunk's delta, whichever field the server uses.

    OpenRouter sends the same text in `reasoning` and `reasoning_details`; the plain string
    fields win so nothing is doubled, `reasoning_details` is read only when they are empty.
    """
    for key in ("reasoning_content", "reasoning"):
        value = delta.get(key)
        if isinstance(value, str) and value:
            return [ReasoningDelta(text=value)]
    details = delta.get("reasoning_details")
    out: list[ReasoningDelta] = []
    for item in details if isinstance(details, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        text = item.get("text") if kind == "reasoning.text" else None
        if kind == "reasoning.summary":
            text = item.get("summary")
        signature = item.get("signature") if isinstance(item.get("signature"), str) else None
        if (isinstance(text, str) and text) or signature:
            out.append(ReasoningDelta(text=text or "", signature=signature))
    return out


class _ToolCalls:
    """Tool-call deltas (`delta.tool_calls[i]`: id and name once, arguments in pieces),
    assembled by index into whole calls."""

    def __init__(self) -> None:
        self.calls: dict[int, dict[str, str]] = {}

    def feed(self, deltas: list[Any]) -> None:
        for position, item in enumerate(deltas):
            if not isinstance(item, dict):
                continue
            index = item.get("index", position)
            call = self.calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
            if item.get("id"):
                call["id"] = str(item["id"])
            function = item.get("function") or {}
            if function.get("name"):
                call["name"] += str(function["name"])
            if function.get("arguments"):
                call["arguments"] += str(function["arguments"])

    def events(self) -> list[ToolCallEvent]:
        return [
            ToolCallEvent(
                id=call["id"] or f"call_{index}",
                name=call["name"],
                arguments=call["arguments"] or "{}",
            )
            for index, call in sorted(self.calls.items())
            if call["name"]
        ]


async def sse_data(response: httpx2.Response) -> AsyncIterator[bytes]:
    """The `data` of each server-sent event (`providers/sse.py`), as bytes, up to `[DONE]`.
    Lenient at the end: a last event the server did not end with an empty line counts."""
    decoder = SSEDecoder()
    async for block in response.aiter_bytes():
        for event in decoder.feed(block):
            if event.data == b"[DONE]":
                return
            yield event.data
    last = decoder.end()
    if last is not None and last.data != b"[DONE]":
        yield last.data


MALFORMED_CHUNK = "The server sent a malformed stream chunk"


def _chunk(response: httpx2.Response, payload: bytes) -> dict[str, Any]:
    try:
        chunk = orjson.loads(payload)
    except orjson.JSONDecodeError:
        chunk = None
    if not isinstance(chunk, dict):
        raise openai.APIError(MALFORMED_CHUNK, response.request, body=None)
    error = chunk.get("error")
    if error:  # an error inside a 200 stream, as OpenAI and OpenRouter send them
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise openai.APIError(str(message or "stream failed"), response.request, body=error)
    return chunk


class _ChunkReader:
    """Chat Completions chunks to events: what a chunk's delta carries (reasoning in any of
    its fields, text, `<think>` spans, tool-call pieces), its finish reason and usage."""

    def __init__(self, split_think_tags: bool, streamed: bool) -> None:
        self.streamed = streamed
        self.splitter = ThinkTagSplitter() if split_think_tags else None
        self.tools = _ToolCalls()
        self.finish: str | None = None
        self.usage: UsageEvent | None = None

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        if chunk.get("usage"):
            self.usage = usage_event(chunk["usage"])
        choices = chunk.get("choices")
        if not choices:
            return []
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]
        delta = choice.get("delta")
        if not delta:
            return []
        events: list[StreamEvent] = list(reasoning_from_delta(delta))
        content = delta.get("content")
        if content:
            if self.splitter is None:
                events.append(TextDelta(text=content))
            else:
                events.extend(self.splitter.feed(content))
        if delta.get("tool_calls"):
            self.tools.feed(delta["tool_calls"])
        return events

    def end(self) -> list[StreamEvent]:
        events: list[StreamEvent] = list(self.splitter.flush()) if self.splitter else []
        events.extend(self.tools.events())
        if self.usage is not None:
            events.append(self.usage)
        events.append(
            DoneEvent(finish_reason=normalize_finish(self.finish), streamed=self.streamed)
        )
        return events


def _as_chunk(completion: dict[str, Any]) -> dict[str, Any]:
    """A whole `chat.completion` as the one chunk that would have carried it all: its
    message is the delta (same fields: content, reasoning_*, tool_calls)."""
    choices = completion.get("choices") or []
    first = choices[0] if choices and isinstance(choices[0], dict) else {}
    choice = {"delta": first.get("message") or {}, "finish_reason": first.get("finish_reason")}
    return {"choices": [choice], "usage": completion.get("usage")}


async def chat_completion_events(
    client: AsyncOpenAI,
    params: dict[str, Any],
    *,
    split_think_tags: bool,
    stream: bool = True,
) -> AsyncGenerator[StreamEvent, None]:
    """One Chat Completions call as events; closes the response when stopped.

    The SDK builds and sends the request (auth, headers, timeouts, status errors); the
    stream is read as raw server-sent events decoded with orjson instead of the SDK's typed
    chunk models, which cost about three times as much CPU per chunk on the gateway path.
    `stream=False` asks for one whole response (what a caller that wants the answer at once
    would have sent) and reads it as a single chunk: the same events, all at the end."""
    body: dict[str, Any] = {**params, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    response = await client.post(
        "/chat/completions", cast_to=httpx2.Response, content=orjson.dumps(body), stream=True
    )
    try:
        reader = _ChunkReader(split_think_tags, streamed=stream)
        if stream:
            async for payload in sse_data(response):
                for event in reader.feed(_chunk(response, payload)):
                    yield event
        else:
            for event in reader.feed(_as_chunk(_chunk(response, await response.aread()))):
                yield event
        for event in reader.end():
            yield event
    finally:
        await response.aclose()


def _body_error(body: object) -> dict[str, Any]:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return inner
    return {}


def openai_error_mapper(provider: str, model: str, secrets: Iterable[str]) -> ErrorMapper:
    """Map `openai` SDK exceptions (also raised for compatible servers) to provider errors."""
    secret_list = [s for s in secrets if s]

    def to_error(exc: BaseException) -> ProviderError:
        if isinstance(exc, openai.APIStatusError):
            detail = _body_error(exc.body)
            message = detail.get("message") if isinstance(detail.get("message"), str) else None
            return error_for_status(
                provider,
                exc.status_code,
                model=model,
                message=message or exc.message,
                headers=exc.response.headers,
                body=exc.body,
                secrets=secret_list,
            )
        if isinstance(exc, openai.APITimeoutError):
            return ProviderTimeout(provider, f"{provider} did not answer in time")
        if isinstance(exc, openai.APIConnectionError):
            return ProviderUnavailable(provider, f"could not reach {provider}")
        if isinstance(exc, openai.APIError):  # an error event inside a 200 stream
            return stream_error(provider, model, exc.code, exc.message, secret_list)
        return transport_error(provider, exc) or unexpected_error(provider, exc, secret_list)

    return to_error


def stream_error(
    provider: str, model: str, code: str | None, message: str | None, secrets: Iterable[str]
) -> ProviderError:
    """An error reported inside a stream (no HTTP status): classify by its code."""
    said = scrub(message or "stream failed", secrets)
    lowered = (code or "").lower()
    if "rate_limit" in lowered:
        return ProviderRateLimited(provider, f"{provider} rate limit reached: {said}")
    if lowered in ("model_not_found",):
        return error_for_status(provider, 404, model=model, message=said)
    if lowered.startswith("invalid") or lowered in ("context_length_exceeded", "bad_request"):
        return error_for_status(provider, 400, model=model, message=said)
    return ProviderUnavailable(provider, f"{provider} failed mid-stream: {said}")
