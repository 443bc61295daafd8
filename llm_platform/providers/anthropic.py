"""Anthropic through the official `anthropic` SDK: Messages API streaming, extended thinking.

Thinking (how a request turns it on):
  * Claude 4.6 and later ("adaptive generation"): always `thinking={"type": "adaptive",
    "display": "summarized"}`, so their thinking is visible; `reasoning_effort` becomes
    `output_config.effort`. These models reject the budget form.
  * Earlier thinking models (3.7, 4, 4.1, 4.5): `thinking={"type": "enabled",
    "budget_tokens": N}` only when the request sets `reasoning_effort`; N by effort.
`temperature` goes out only to models that still take sampling parameters (Claude 4.6 and
earlier; 4.7+ and unversioned names reject it with a 400) and only with thinking off; the
SDK no longer has the argument, so it travels in `extra_body`. With thinking on,
`max_tokens` = the answer allowance (request's `max_tokens`, default 4096) + the thinking
budget, capped at the model's output limit.

Stream mapping: `thinking_delta` → `ReasoningDelta`; the block's `signature_delta`s are
joined and surfaced as a final `ReasoningDelta(text="", signature=…)` when the block
closes, so a later turn can send the block back (`ChatMessage.reasoning` /
`reasoning_signature`). Usage: `input_tokens` counts cache reads and writes too (as
OpenAI's prompt tokens do), `cached_tokens` = `cache_read_input_tokens`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import anthropic
from anthropic import AsyncAnthropic
from anthropic.types import (
    CitationsDelta,
    CitationsSearchResultLocation,
    CitationsWebSearchResultLocation,
    InputJSONDelta,
    MessageDeltaUsage,
    RawContentBlockDelta,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    RawMessageStreamEvent,
    SignatureDelta,
    TextBlock,
    ThinkingDelta,
    ToolUseBlock,
    Usage,
)
from anthropic.types import TextDelta as SdkTextDelta

from llm_platform.providers.base import (
    ChatMessage,
    ChatRequest,
    CitationEvent,
    DoneEvent,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    UsageEvent,
)
from llm_platform.providers.capabilities import CatalogProvider
from llm_platform.providers.error_mapping import (
    error_for_status,
    transport_error,
    unexpected_error,
)
from llm_platform.providers.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from llm_platform.providers.streaming import ErrorMapper, guarded_stream

DEFAULT_ANSWER_TOKENS = 4096
ADAPTIVE_THINKING_ALLOWANCE = 16_000
THINKING_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16_384}
ADAPTIVE_EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
_WEB_SEARCH_TOOL = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
# `response_schema` without tools: the answer is the input of this one forced tool (the
# schema is its `input_schema`), streamed back as the answer's text.
RESPONSE_TOOL = "json_response"


def claude_version(model: str) -> tuple[int, int] | None:
    """(major, minor) from names like claude-sonnet-4-5, claude-opus-4-6-v1, claude-sonnet-5,
    claude-3-7-sonnet-20250219; None when the name carries no version."""
    numbers: list[int] = []
    for token in model.lower().removeprefix("claude-").split("-"):
        if token.isdigit() and len(token) <= 2:
            numbers.append(int(token))
            if len(numbers) == 2:
                break
        elif numbers:
            break
    if not numbers:
        return None
    return numbers[0], numbers[1] if len(numbers) > 1 else 0


def uses_adaptive_thinking(model: str) -> bool:
    version = claude_version(model)
    return version is not None and version >= (4, 6)


def accepts_sampling_params(model: str) -> bool:
    """Claude 4.7 and later (and names without a version) reject `temperature`."""
    version = claude_version(model)
    return version is not None and version <= (4, 6)


class AnthropicProvider(CatalogProvider):
    family = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        default_model: str = "claude-sonnet-4-6",
        connect_timeout: float = 10.0,
        request_timeout: float = 600.0,
        name: str = "anthropic",
    ) -> None:
        super().__init__(name=name, default_model=default_model, secrets=[api_key])
        self.client = AsyncAnthropic(
            api_key=api_key,
            base_url=base_url or None,
            max_retries=0,
            timeout=anthropic.Timeout(request_timeout, connect=connect_timeout),
        )

    def message_params(self, request: ChatRequest) -> dict[str, Any]:
        caps = self.capabilities(request.model)
        system_parts = [request.system] if request.system else []
        messages: list[dict[str, Any]] = []
        for message in request.messages:
            if message.role == "system":
                system_parts.append(message.content)
                continue
            converted = _message(message)
            if converted is None:
                continue
            if message.role == "tool" and messages and _is_tool_results(messages[-1]):
                messages[-1]["content"].extend(converted["content"])  # one turn of results
            else:
                messages.append(converted)
        tools, tool_choice = _tools(request)
        # Extended thinking allows only tool_choice auto/none, and a tool-use turn continued
        # with thinking needs the turn's thinking block back: a forced call, or results for
        # calls whose thinking the caller did not keep (OpenAI-style clients), turn it off.
        forced = tool_choice is not None and tool_choice.get("type") in ("any", "tool")
        forced = forced or _tool_turn_without_thinking(request.messages)
        answer = request.max_tokens or DEFAULT_ANSWER_TOKENS
        params: dict[str, Any] = {"model": request.model, "messages": messages}
        if system_parts:
            params["system"] = "\n\n".join(system_parts)
        thinking = False
        max_tokens = answer
        if caps.reasoning and not forced and uses_adaptive_thinking(request.model):
            thinking = True
            params["thinking"] = {"type": "adaptive", "display": "summarized"}
            if request.reasoning_effort is not None:
                params["output_config"] = {"effort": ADAPTIVE_EFFORT[request.reasoning_effort]}
            max_tokens = answer + ADAPTIVE_THINKING_ALLOWANCE
        elif caps.reasoning and not forced and request.reasoning_effort is not None:
            thinking = True
            budget = THINKING_BUDGET[request.reasoning_effort]
            max_tokens = answer + budget
            if caps.max_output_tokens is not None and max_tokens > caps.max_output_tokens:
                max_tokens = caps.max_output_tokens
                budget = max(1024, min(budget, max_tokens - 1024))
            params["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if caps.max_output_tokens is not None:
            max_tokens = min(max_tokens, caps.max_output_tokens)
        params["max_tokens"] = max_tokens
        if (
            request.temperature is not None
            and not thinking
            and accepts_sampling_params(request.model)
        ):
            params["extra_body"] = {"temperature": request.temperature}
        if request.web_search and caps.web_search:
            tools.append(dict(_WEB_SEARCH_TOOL))
        if tools:
            params["tools"] = tools
        if tool_choice is not None:
            params["tool_choice"] = tool_choice
        return params

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return guarded_stream(self._events(request), self._error_mapper(request.model))

    async def _events(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        stream = await self.client.messages.create(**self.message_params(request), stream=True)
        async with stream:
            state = _StreamState()
            async for event in stream:
                for out in state.handle(event):
                    yield out

    def _error_mapper(self, model: str) -> ErrorMapper:
        name, secrets = self.name, self._secrets

        def to_error(exc: BaseException) -> ProviderError:
            if isinstance(exc, anthropic.APIStatusError):
                kind, message = _error_body(exc.body)
                status = exc.status_code
                if status < 400:  # an `event: error` inside a 200 stream
                    status = _ERROR_STATUS.get(kind or "", 500)
                return error_for_status(
                    name,
                    status,
                    model=model,
                    message=message,
                    headers=exc.response.headers,
                    body=exc.body,
                    secrets=secrets,
                )
            if isinstance(exc, anthropic.APITimeoutError):
                return ProviderTimeout(name, f"{name} did not answer in time")
            if isinstance(exc, anthropic.APIConnectionError):
                return ProviderUnavailable(name, f"could not reach {name}")
            return transport_error(name, exc) or unexpected_error(name, exc, secrets)

        return to_error

    async def list_models(self) -> list[str]:
        models = [m.id async for m in self.client.models.list()]
        return sorted(models)

    async def aclose(self) -> None:
        await self.client.close()


def _tools(request: ChatRequest) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """`tools` and `tool_choice` as the Messages API takes them (a forced `json_response`
    tool for a response schema when the request declares no tools of its own)."""
    if not request.tools and request.response_schema is not None:
        tool = {
            "name": RESPONSE_TOOL,
            "description": "Give the answer as this tool's input.",
            "input_schema": _object_schema(request.response_schema),
        }
        return [tool], {"type": "tool", "name": RESPONSE_TOOL}
    tools = [
        {"name": spec.name, "description": spec.description, "input_schema": spec.parameters}
        for spec in request.tools
    ]
    choice = request.tool_choice
    if not tools or choice is None:
        if tools and request.parallel_tool_calls is False:
            return tools, {"type": "auto", "disable_parallel_tool_use": True}
        return tools, None
    out: dict[str, Any]
    if choice == "none":
        return tools, {"type": "none"}
    if choice == "auto":
        out = {"type": "auto"}
    elif choice == "required":
        out = {"type": "any"}
    else:
        out = {"type": "tool", "name": choice}
    if request.parallel_tool_calls is False:
        out["disable_parallel_tool_use"] = True
    return tools, out


def _tool_turn_without_thinking(messages: list[ChatMessage]) -> bool:
    last = next((m for m in reversed(messages) if m.role == "assistant"), None)
    return last is not None and bool(last.tool_calls) and not last.reasoning_signature


def _object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return schema if schema.get("type") == "object" else {"type": "object", **schema}


def _is_tool_results(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return (
        message.get("role") == "user"
        and isinstance(content, list)
        and all(block.get("type") == "tool_result" for block in content)
    )


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _message(message: ChatMessage) -> dict[str, Any] | None:
    if message.role == "tool":
        result = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id or "",
            "content": message.content,
        }
        return {"role": "user", "content": [result]}
    blocks: list[dict[str, Any]] = []
    if message.role == "assistant" and message.reasoning and message.reasoning_signature:
        blocks.append(
            {
                "type": "thinking",
                "thinking": message.reasoning,
                "signature": message.reasoning_signature,
            }
        )
    if message.role == "user":
        blocks.extend(
            {
                "type": "image",
                "source": {"type": "base64", "media_type": img.mime, "data": img.data_b64},
            }
            for img in message.images
        )
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    if message.role == "assistant":
        blocks.extend(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": _arguments(call.arguments),
            }
            for call in message.tool_calls
        )
    if not blocks:
        return None
    if len(blocks) == 1 and blocks[0]["type"] == "text":
        return {"role": message.role, "content": message.content}
    return {"role": message.role, "content": blocks}


def _error_body(body: object) -> tuple[str | None, str | None]:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            kind, message = inner.get("type"), inner.get("message")
            return (
                kind if isinstance(kind, str) else None,
                message if isinstance(message, str) else None,
            )
    return None, None


class _StreamState:
    """Folds raw Messages stream events into our events."""

    def __init__(self) -> None:
        self.signatures: dict[int, list[str]] = {}
        self.input_tokens: int | None = None
        self.cache_read: int | None = None
        self.cache_write: int | None = None
        self.output_tokens: int | None = None
        self.thinking_tokens: int | None = None
        self.stop_reason: str | None = None
        # Open tool_use blocks by index: (id, name, argument pieces).
        self.tools: dict[int, tuple[str, str, list[str]]] = {}
        self.answered_by_tool = False

    def _usage(self, usage: Usage | MessageDeltaUsage) -> None:
        # Fields read defensively: the SDK builds stream events without validation, so a
        # field a server left out is missing rather than None.
        if usage is None:
            return
        for attr, field in (
            ("input_tokens", "input_tokens"),
            ("cache_read", "cache_read_input_tokens"),
            ("cache_write", "cache_creation_input_tokens"),
            ("output_tokens", "output_tokens"),
        ):
            value = getattr(usage, field, None)
            if isinstance(value, int):
                setattr(self, attr, value)
        details = getattr(usage, "output_tokens_details", None)
        thinking = getattr(details, "thinking_tokens", None) if details is not None else None
        if isinstance(thinking, int):
            self.thinking_tokens = thinking

    def handle(self, event: RawMessageStreamEvent) -> list[StreamEvent]:
        """Matched on the SDK's event classes: a change there is a type error here."""
        match event:
            case RawMessageStartEvent():
                self._usage(event.message.usage)
            case RawContentBlockStartEvent():
                block = event.content_block
                if isinstance(block, TextBlock) and block.text:
                    return [TextDelta(text=block.text)]
                if isinstance(block, ToolUseBlock):
                    self.tools[event.index] = (block.id, block.name, [])
            case RawContentBlockDeltaEvent():
                return self._delta(event.index, event.delta)
            case RawContentBlockStopEvent():
                parts = self.signatures.pop(event.index, None)
                if parts:
                    return [ReasoningDelta(text="", signature="".join(parts))]
                tool = self.tools.pop(event.index, None)
                if tool is not None:
                    return self._tool_done(*tool)
            case RawMessageDeltaEvent():
                self._usage(event.usage)
                if event.delta.stop_reason:
                    self.stop_reason = event.delta.stop_reason
            case RawMessageStopEvent():
                return [self.usage_event(), DoneEvent(finish_reason=self.finish_reason())]
        return []

    def _tool_done(self, call_id: str, name: str, pieces: list[str]) -> list[StreamEvent]:
        arguments = "".join(pieces) or "{}"
        if name == RESPONSE_TOOL:
            self.answered_by_tool = True
            return []  # its input was streamed as the answer's text
        return [ToolCallEvent(id=call_id, name=name, arguments=arguments)]

    def _delta(self, index: int, delta: RawContentBlockDelta) -> list[StreamEvent]:
        match delta:
            case InputJSONDelta():
                tool = self.tools.get(index)
                if tool is None or not delta.partial_json:
                    return []
                tool[2].append(delta.partial_json)
                if tool[1] == RESPONSE_TOOL:
                    return [TextDelta(text=delta.partial_json)]
            case ThinkingDelta():
                return [ReasoningDelta(text=delta.thinking)] if delta.thinking else []
            case SignatureDelta():
                self.signatures.setdefault(index, []).append(delta.signature)
            case SdkTextDelta():
                return [TextDelta(text=delta.text)] if delta.text else []
            case CitationsDelta():
                citation = delta.citation
                title = (
                    citation.title
                    if isinstance(
                        citation, CitationsWebSearchResultLocation | CitationsSearchResultLocation
                    )
                    else citation.document_title
                )
                url = (
                    citation.url if isinstance(citation, CitationsWebSearchResultLocation) else None
                )
                return [CitationEvent(title=title, url=url, snippet=citation.cited_text)]
        return []

    def usage_event(self) -> UsageEvent:
        total_input = None
        if self.input_tokens is not None:
            total_input = self.input_tokens + (self.cache_read or 0) + (self.cache_write or 0)
        return UsageEvent(
            input_tokens=total_input,
            output_tokens=self.output_tokens,
            reasoning_tokens=self.thinking_tokens,
            cached_tokens=self.cache_read,
        )

    def finish_reason(self) -> str | None:
        if self.stop_reason is None:
            return None
        if self.answered_by_tool and self.stop_reason == "tool_use":
            return "stop"
        return _FINISH.get(self.stop_reason, self.stop_reason)
