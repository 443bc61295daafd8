"""Fake Anthropic Messages API (`POST /v1/messages`, `GET /v1/models`).

Wire format from Anthropic's streaming reference: `event: message_start` (message with
`usage.input_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens`), then per
content block `content_block_start` / `content_block_delta` / `content_block_stop` —
a `thinking` block streams `thinking_delta`s then one `signature_delta` (only when the
request enables thinking), a `text` block streams `text_delta`s, a `tool_use` block (one
per scenario tool call) its input in `input_json_delta` pieces — `ping` events in
between, `message_delta` with `stop_reason` (`tool_use` after tool calls) and cumulative
`usage.output_tokens`, and
`message_stop`. A failure mid-stream is `event: error` with
`{"type": "error", "error": {"type": "overloaded_error", "message": ...}}`; HTTP errors
carry the same body shape, a `request-id` header and, for 429, `retry-after`.
"""

from __future__ import annotations

from typing import Any

from tests.support.fake_servers.server import FakeVendor, Reply, Request, sse

ANTHROPIC_TEST_KEY = "sk-ant-test-0123456789abcdef"
DEFAULT_MODELS = (
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
    "claude-opus-4-6",
    "claude-sonnet-4-5",
)
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message},
    }


class FakeAnthropic(FakeVendor):
    def __init__(
        self, *, api_key: str = ANTHROPIC_TEST_KEY, models: tuple[str, ...] = DEFAULT_MODELS
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
        headers = {"request-id": "req_fake"}
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        body = anthropic_error(status, message or f"fake failure {status}")
        self.queue(*[Reply.json(body, status, headers) for _ in range(times)])

    def handle(self, request: Request) -> Reply:
        # The API reference documents `x-api-key`; current SDKs send `Authorization: Bearer`.
        given = request.headers.get("x-api-key") or request.headers.get("authorization", "")[7:]
        if given != self.api_key:
            return Reply.json(anthropic_error(401, "invalid x-api-key"), 401)
        if request.method == "GET" and request.path == "/v1/models":
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-09-29T00:00:00Z"}
                for m in self.models
            ]
            return Reply.json(
                {
                    "data": data,
                    "has_more": False,
                    "first_id": data[0]["id"],
                    "last_id": data[-1]["id"],
                }
            )
        if request.method == "POST" and request.path == "/v1/messages":
            body = request.json()
            if body.get("model") not in self.models:
                return Reply.json(anthropic_error(404, f"model: {body.get('model')}"), 404)
            if not body.get("stream"):
                return Reply.json(anthropic_error(400, "this fake only streams"), 400)
            return self._stream(body)
        return Reply.json(anthropic_error(404, "Not found"), 404)

    def _stream(self, body: dict[str, Any]) -> Reply:
        s = self.scenario
        thinking = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
        message = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": body["model"],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": s.input_tokens - s.cached_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": s.cached_tokens,
                "output_tokens": 1,
            },
        }
        sequence: list[tuple[bool, bytes]] = [
            (False, sse({"type": "message_start", "message": message}, "message_start"))
        ]
        index = 0
        if thinking and s.reasoning:
            sequence.append(
                (False, _block_start(index, {"type": "thinking", "thinking": "", "signature": ""}))
            )
            sequence.append((False, sse({"type": "ping"}, "ping")))
            for piece in s.reasoning:
                sequence.append(
                    (True, _delta(index, {"type": "thinking_delta", "thinking": piece}))
                )
            sequence.append(
                (False, _delta(index, {"type": "signature_delta", "signature": s.signature}))
            )
            sequence.append(
                (False, sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
            )
            index += 1
        sequence.append((False, _block_start(index, {"type": "text", "text": ""})))
        for piece in s.text:
            sequence.append((True, _delta(index, {"type": "text_delta", "text": piece})))
        chunks = s.until_cut(sequence)
        if s.cut() is not None:
            if s.error_after is not None:
                error = anthropic_error(529, s.error_message)
                chunks.append(sse(error, "error"))
            return Reply(chunks=chunks, first_delay=s.first_delay, delay=s.delay,
                         drop=s.drop_after is not None)  # fmt: skip
        if s.hold_open:
            return Reply(chunks=chunks, first_delay=s.first_delay, delay=s.delay, hold_open=True)
        chunks.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
        for call_id, name, arguments in s.tool_calls:
            index += 1
            block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
            chunks.append(_block_start(index, block))
            chunks.append(_delta(index, {"type": "input_json_delta", "partial_json": ""}))
            for i in range(0, len(arguments), 7):
                piece = {"type": "input_json_delta", "partial_json": arguments[i : i + 7]}
                chunks.append(_delta(index, piece))
            chunks.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
        stop_reason = "tool_use" if s.tool_calls else "end_turn"
        chunks.append(
            sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": s.output_tokens},
                },
                "message_delta",
            )
        )
        chunks.append(sse({"type": "message_stop"}, "message_stop"))
        return Reply(chunks=chunks, first_delay=s.first_delay, delay=s.delay)


def _block_start(index: int, block: dict[str, Any]) -> bytes:
    return sse(
        {"type": "content_block_start", "index": index, "content_block": block},
        "content_block_start",
    )


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return sse(
        {"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta"
    )
