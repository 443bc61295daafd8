"""Fake Gemini API (`POST /{v1,v1beta}/models/{model}:streamGenerateContent?alt=sse`,
`GET /{v1,v1beta}/models`), authenticated by the `x-goog-api-key` header. (google-genai
3.x defaults to `v1`; older SDKs and most examples use `v1beta`: both are served.)

Wire format from the Gemini API reference: each SSE `data:` line is a
GenerateContentResponse: `candidates[0].content.parts[]` where thought-summary parts carry
`"thought": true` (sent only when `generationConfig.thinkingConfig.includeThoughts` is set),
`usageMetadata` (`promptTokenCount`, `candidatesTokenCount`, `thoughtsTokenCount`,
`cachedContentTokenCount`, `totalTokenCount`), `modelVersion`, `responseId`; the last
chunk has `finishReason: "STOP"` (with a turn's `functionCall` parts, whole, when the
scenario has tool calls). Errors use Google's envelope
`{"error": {"code", "message", "status", "details"}}` — a bad key is a 400
INVALID_ARGUMENT with reason API_KEY_INVALID, an unknown model a 404 NOT_FOUND, a 429
RESOURCE_EXHAUSTED carries `RetryInfo.retryDelay`. A failure mid-stream is a `data:` line
holding that envelope.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.fake_servers.server import FakeVendor, Reply, Request

GOOGLE_TEST_KEY = "AIzaSyTest-0123456789abcdefghijklmno"
DEFAULT_MODELS = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash", "gemini-3-pro-preview")
_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def google_error(
    code: int, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "status": _STATUS.get(code, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return {"error": error}


def camel_keys(value: Any) -> Any:
    """Request JSON with every key in lowerCamelCase. Google's proto-JSON parser accepts
    both spellings (`include_thoughts` and `includeThoughts`), and SDK versions differ in
    which they send, so the fake reads requests through this."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            head, *rest = key.split("_")
            out[head + "".join(p[:1].upper() + p[1:] for p in rest)] = camel_keys(item)
        return out
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    return value


def _data(payload: dict[str, Any]) -> bytes:
    import json

    # Gemini separates events with CRLF pairs.
    return b"data: " + json.dumps(payload).encode() + b"\r\n\r\n"


class FakeGemini(FakeVendor):
    def __init__(
        self, *, api_key: str = GOOGLE_TEST_KEY, models: tuple[str, ...] = DEFAULT_MODELS
    ) -> None:
        super().__init__(api_key=api_key, models=models)

    def fail_next(
        self,
        status: int,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        details = None
        headers: dict[str, str] = {}
        if retry_after is not None:
            details = [
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{retry_after}s",
                }
            ]
            headers["retry-after"] = str(retry_after)
        body = google_error(status, message or f"fake failure {status}", details)
        self.queue(*[Reply.json(body, status, headers) for _ in range(times)])

    def handle(self, request: Request) -> Reply:
        if request.headers.get("x-goog-api-key") != self.api_key:
            return Reply.json(
                google_error(
                    400,
                    "API key not valid. Please pass a valid API key.",
                    [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com",
                            "metadata": {"service": "generativelanguage.googleapis.com"},
                        }
                    ],
                ),
                400,
            )
        version, _, rest = request.path.lstrip("/").partition("/")
        if version not in ("v1", "v1beta"):
            return Reply.json(google_error(404, "Not found"), 404)
        if request.method == "GET" and rest == "models":
            models = [
                {
                    "name": f"models/{m}",
                    "displayName": m,
                    "inputTokenLimit": 1048576,
                    "outputTokenLimit": 65536,
                    "supportedGenerationMethods": ["generateContent", "countTokens"],
                    "thinking": True,
                }
                for m in self.models
            ]
            models.append(
                {
                    "name": "models/text-embedding-004",
                    "supportedGenerationMethods": ["embedContent"],
                }
            )
            return Reply.json({"models": models})
        if request.method == "POST" and rest.startswith("models/") and ":" in rest:
            model, _, method = rest[len("models/") :].partition(":")
            if model not in self.models:
                return Reply.json(
                    google_error(
                        404,
                        f"models/{model} is not found for API version {version}, or is not "
                        "supported for generateContent. Call ListModels to see the list of "
                        "available models and their supported methods.",
                    ),
                    404,
                )
            if method != "streamGenerateContent" or request.query.get("alt") != "sse":
                return Reply.json(google_error(400, "this fake only streams (alt=sse)"), 400)
            return self._stream(model, camel_keys(request.json()))
        return Reply.json(google_error(404, "Not found"), 404)

    def _stream(self, model: str, body: dict[str, Any]) -> Reply:
        s = self.scenario
        config = body.get("generationConfig") or {}
        thoughts = bool((config.get("thinkingConfig") or {}).get("includeThoughts"))

        def chunk(
            part: dict[str, Any] | None, *, final: bool = False, calls: list[Any] | None = None
        ) -> bytes:
            candidate: dict[str, Any] = {
                "content": {"parts": calls or ([part] if part else []), "role": "model"},
                "index": 0,
            }
            usage: dict[str, Any] = {
                "promptTokenCount": s.input_tokens,
                "totalTokenCount": s.input_tokens,
                "thoughtsTokenCount": s.reasoning_tokens,
            }
            if final:
                candidate["finishReason"] = "STOP"
                usage["candidatesTokenCount"] = s.output_tokens - s.reasoning_tokens
                usage["cachedContentTokenCount"] = s.cached_tokens
                usage["totalTokenCount"] = s.input_tokens + s.output_tokens
                usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": s.input_tokens}]
            return _data(
                {
                    "candidates": [candidate],
                    "usageMetadata": usage,
                    "modelVersion": model,
                    "responseId": "fake-response",
                }
            )

        pieces: list[dict[str, Any]] = []
        if thoughts:
            pieces += [{"text": r, "thought": True} for r in s.reasoning]
        pieces += [{"text": t} for t in s.text]
        cut = s.cut()
        if cut is not None:
            chunks = [chunk(p) for p in pieces[:cut]]
            if s.error_after is not None:
                chunks.append(_data(google_error(500, s.error_message)))
            return Reply(chunks=chunks, first_delay=s.first_delay, delay=s.delay,
                         drop=s.drop_after is not None)  # fmt: skip
        if s.hold_open:
            chunks = [chunk(p) for p in pieces]
            return Reply(chunks=chunks, first_delay=s.first_delay, delay=s.delay, hold_open=True)
        # Function calls come whole, all of a turn's in one chunk's parts (Gemini gives no
        # call ids: the client numbers them).
        calls = [
            {"functionCall": {"name": name, "args": json.loads(arguments)}}
            for _, name, arguments in s.tool_calls
        ]
        if calls:
            chunks = [chunk(p) for p in pieces] + [chunk(None, final=True, calls=calls)]
        else:
            chunks = [chunk(p) for p in pieces[:-1]]
            chunks.append(chunk(pieces[-1] if pieces else None, final=True))
        return Reply(chunks=chunks, first_delay=s.first_delay, delay=s.delay)
