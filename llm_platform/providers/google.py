"""Google Gemini through the official `google-genai` SDK (`streamGenerateContent?alt=sse`).

Thinking: thinking-capable models always get `include_thoughts=True`, so their thought
summaries arrive as parts with `thought=True` (→ `ReasoningDelta`). `reasoning_effort`
becomes `thinking_budget` on Gemini 2.5 and `thinking_level` (LOW/HIGH) on Gemini 3+.
Usage: `output_tokens` = `candidates_token_count` + `thoughts_token_count` (Gemini reports
them apart; other vendors count reasoning inside output), `reasoning_tokens` =
`thoughts_token_count`, `cached_tokens` = `cached_content_token_count`.

The SDK gets its own httpx client (closed in `aclose`), so its transport does not change
when aiohttp happens to be installed, and it never retries on its own. The SDK wraps the
HTTP response in several layers of async generators that are only closed when the garbage
collector finds them; so a response hook records the responses opened by the current
stream (a context variable: concurrent streams do not see each other's) and the stream
closes them itself when its consumer stops.
"""

from __future__ import annotations

import base64
import contextvars
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

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
from llm_platform.providers.error_mapping import error_for_status, transport_error, unexpected_error
from llm_platform.providers.errors import ProviderAuthError, ProviderError
from llm_platform.providers.streaming import ErrorMapper, guarded_stream

THINKING_BUDGET = {"minimal": 512, "low": 1024, "medium": 8192, "high": 24_576}
THINKING_LEVEL = {"minimal": "LOW", "low": "LOW", "medium": "HIGH", "high": "HIGH"}
_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
_BAD_KEY = re.compile(r"API key not valid|API_KEY_INVALID|API key expired", re.IGNORECASE)


_open_responses: contextvars.ContextVar[list[httpx2.Response] | None] = contextvars.ContextVar(
    "gemini_open_responses", default=None
)


async def _track_response(response: httpx2.Response) -> None:
    opened = _open_responses.get()
    if opened is not None:
        opened.append(response)


def gemini_major(model: str) -> int | None:
    match = re.match(r"gemini-(\d+)", model)
    return int(match.group(1)) if match else None


class GoogleProvider(CatalogProvider):
    family = "google"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        default_model: str = "gemini-2.5-flash",
        connect_timeout: float = 10.0,
        request_timeout: float = 600.0,
        name: str = "google",
    ) -> None:
        super().__init__(name=name, default_model=default_model, secrets=[api_key])
        self._http = httpx2.AsyncClient(
            timeout=httpx2.Timeout(request_timeout, connect=connect_timeout),
            event_hooks={"response": [_track_response]},
        )
        options = types.HttpOptions(
            base_url=base_url or None,
            timeout=int(request_timeout * 1000),
            httpx_async_client=self._http,
        )
        self.client = genai.Client(api_key=api_key, http_options=options)

    def contents(self, request: ChatRequest) -> tuple[list[types.Content], str | None]:
        system_parts = [request.system] if request.system else []
        contents: list[types.Content] = []
        names: dict[str, str] = {}  # tool call id -> tool name (results are matched by name)
        signature = _replayed_call_signature(request.model)
        for message in request.messages:
            if message.role == "system":
                system_parts.append(message.content)
                continue
            if message.role == "tool":
                part = _function_response(message, names)
                previous = contents[-1] if contents else None
                if previous is not None and previous.role == "user" and _all_responses(previous):
                    (previous.parts or []).append(part)  # one turn of results
                else:
                    contents.append(types.Content(role="user", parts=[part]))
                continue
            parts: list[types.Part] = []
            if message.role == "user":
                parts.extend(
                    types.Part(
                        inline_data=types.Blob(
                            mime_type=image.mime, data=base64.b64decode(image.data_b64)
                        )
                    )
                    for image in message.images
                )
            if message.content:
                parts.append(types.Part(text=message.content))
            for number, call in enumerate(
                message.tool_calls if message.role == "assistant" else []
            ):
                names[call.id] = call.name
                parts.append(
                    types.Part(
                        function_call=types.FunctionCall(
                            id=call.id, name=call.name, args=_arguments(call.arguments)
                        ),
                        thought_signature=signature if number == 0 else None,
                    )
                )
            if parts:
                role = "model" if message.role == "assistant" else "user"
                contents.append(types.Content(role=role, parts=parts))
        return contents, "\n\n".join(system_parts) or None

    def config(self, request: ChatRequest, system: str | None) -> types.GenerateContentConfig:
        caps = self.capabilities(request.model)
        config = types.GenerateContentConfig(
            system_instruction=system,
            temperature=request.temperature,
            max_output_tokens=request.max_tokens,
        )
        if caps.reasoning:
            thinking = types.ThinkingConfig(include_thoughts=True)
            effort = request.reasoning_effort
            if effort is not None:
                major = gemini_major(request.model)
                if major is not None and major >= 3:
                    thinking.thinking_level = types.ThinkingLevel(THINKING_LEVEL[effort])
                else:
                    thinking.thinking_budget = THINKING_BUDGET[effort]
            config.thinking_config = thinking
        tools: list[types.Tool | Any] = []
        if request.tools:
            declarations = [
                types.FunctionDeclaration(
                    name=spec.name,
                    description=spec.description or None,
                    parameters_json_schema=spec.parameters,
                )
                for spec in request.tools
            ]
            tools.append(types.Tool(function_declarations=declarations))
            mode, allowed = _calling_mode(request.tool_choice)
            if mode is not None:
                config.tool_config = types.ToolConfig(
                    function_calling_config=types.FunctionCallingConfig(
                        mode=mode, allowed_function_names=allowed
                    )
                )
        if request.web_search and caps.web_search:
            tools.append(types.Tool(google_search=types.GoogleSearch()))
        if tools:
            config.tools = tools
        if request.response_schema is not None:
            config.response_mime_type = "application/json"
            config.response_json_schema = request.response_schema
        return config

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return guarded_stream(self._events(request), self._error_mapper(request.model))

    async def _events(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        contents, system = self.contents(request)
        opened: list[httpx2.Response] = []
        # The SDK sends the request on the first `__anext__`: track responses around it.
        token = _open_responses.set(opened)
        try:
            chunks = await self.client.aio.models.generate_content_stream(
                model=request.model,
                contents=contents,
                config=self.config(request, system),
            )
            iterator = aiter(chunks)
            first = await anext(iterator, None)
        except BaseException:
            await _close_all(opened)
            raise
        finally:
            _open_responses.reset(token)
        folder = _ChunkFolder()
        try:
            if first is not None:
                for event in folder.events(first):
                    yield event
                async for chunk in iterator:
                    for event in folder.events(chunk):
                        yield event
        finally:
            await _close_all(opened)
            await chunks.aclose()  # type: ignore[attr-defined]
        if folder.usage is not None:
            yield folder.usage
        finish = folder.finish
        if folder.calls and finish in (None, "stop"):
            finish = "tool_calls"
        yield DoneEvent(finish_reason=finish)

    def _error_mapper(self, model: str) -> ErrorMapper:
        name, secrets = self.name, self._secrets

        def to_error(exc: BaseException) -> ProviderError:
            if isinstance(exc, genai_errors.APIError):
                message = exc.message if isinstance(exc.message, str) else None
                if exc.code in (400, 401, 403) and _BAD_KEY.search(f"{message} {exc.details}"):
                    return ProviderAuthError(
                        name,
                        f"{name} rejected the configured API key (HTTP {exc.code}); "
                        "check the key in the server's settings",
                    )
                response = getattr(exc, "response", None)
                headers = getattr(response, "headers", None)
                return error_for_status(
                    name,
                    int(exc.code or 500),
                    model=model,
                    message=message,
                    headers=headers,
                    body=exc.details,
                    secrets=secrets,
                )
            return transport_error(name, exc) or unexpected_error(name, exc, secrets)

        return to_error

    async def list_models(self) -> list[str]:
        names: list[str] = []
        async for model in await self.client.aio.models.list():
            actions = model.supported_actions or []
            if model.name and (not actions or "generateContent" in actions):
                names.append(model.name.removeprefix("models/"))
        return sorted(names)

    async def aclose(self) -> None:
        await self._http.aclose()


class _ChunkFolder:
    """GenerateContentResponse chunks → events; keeps the latest usage and finish reason."""

    def __init__(self) -> None:
        self.usage: UsageEvent | None = None
        self.finish: str | None = None
        self.seen_urls: set[str] = set()
        self.calls = 0

    def events(self, chunk: types.GenerateContentResponse) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if chunk.usage_metadata is not None:
            self.usage = usage_event(chunk.usage_metadata)
        feedback = chunk.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            self.finish = "content_filter"
        for candidate in (chunk.candidates or [])[:1]:
            parts = candidate.content.parts if candidate.content else None
            for part in parts or []:
                if part.text:
                    kind = ReasoningDelta if part.thought else TextDelta
                    out.append(kind(text=part.text))
                call = part.function_call
                if call is not None and call.name:
                    # Gemini sends each call whole, in one part.
                    self.calls += 1
                    out.append(
                        ToolCallEvent(
                            id=call.id or f"call_{self.calls}",
                            name=call.name,
                            arguments=json.dumps(call.args or {}, separators=(",", ":")),
                        )
                    )
            out.extend(citations(candidate, self.seen_urls))
            if candidate.finish_reason is not None:
                self.finish = finish_reason(candidate.finish_reason)
        return out


def _calling_mode(
    choice: str | None,
) -> tuple[types.FunctionCallingConfigMode | None, list[str] | None]:
    if choice is None:
        return None, None
    if choice in ("auto", "none"):
        return types.FunctionCallingConfigMode(choice.upper()), None
    if choice == "required":
        return types.FunctionCallingConfigMode.ANY, None
    return types.FunctionCallingConfigMode.ANY, [choice]


# Gemini 3 rejects a replayed function call without the thought signature it came with;
# clients of the OpenAI-style facade cannot send it back, so the documented placeholder for
# calls whose signature is unknown goes on the first call of each model turn.
SKIP_SIGNATURE = b"skip_thought_signature_validator"


def _replayed_call_signature(model: str) -> bytes | None:
    major = gemini_major(model)
    return SKIP_SIGNATURE if major is not None and major >= 3 else None


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _function_response(message: ChatMessage, names: dict[str, str]) -> types.Part:
    """A tool result: Gemini wants an object, so a non-object result is `{"result": ...}`."""
    try:
        value: Any = json.loads(message.content)
    except json.JSONDecodeError:
        value = message.content
    response = value if isinstance(value, dict) else {"result": value}
    name = message.name or names.get(message.tool_call_id or "", "") or "tool"
    return types.Part(
        function_response=types.FunctionResponse(
            id=message.tool_call_id, name=name, response=response
        )
    )


def _all_responses(content: types.Content) -> bool:
    return all(part.function_response is not None for part in content.parts or [])


async def _close_all(responses: list[httpx2.Response]) -> None:
    for response in responses:
        await response.aclose()


def usage_event(meta: types.GenerateContentResponseUsageMetadata) -> UsageEvent:
    thoughts = meta.thoughts_token_count
    output = meta.candidates_token_count
    if thoughts is not None:
        output = (output or 0) + thoughts
    return UsageEvent(
        input_tokens=meta.prompt_token_count,
        output_tokens=output,
        reasoning_tokens=thoughts,
        cached_tokens=meta.cached_content_token_count,
    )


def finish_reason(reason: Any) -> str:
    value = str(getattr(reason, "value", reason)).upper()
    if value == "STOP":
        return "stop"
    if value == "MAX_TOKENS":
        return "length"
    if value in _FILTERED:
        return "content_filter"
    return value.lower()


def citations(candidate: types.Candidate, seen: set[str]) -> list[CitationEvent]:
    grounding = candidate.grounding_metadata
    out: list[CitationEvent] = []
    for chunk in (grounding.grounding_chunks or []) if grounding else []:
        web = chunk.web
        if web is not None and web.uri and web.uri not in seen:
            seen.add(web.uri)
            out.append(CitationEvent(url=web.uri, title=web.title))
    return out
