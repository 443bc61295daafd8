"""Fake OpenAI and OpenAI-compatible servers (DeepSeek, OpenRouter, local servers).

Wire formats follow the vendors' API references:
  * Chat Completions streaming: `data: {chat.completion.chunk}` lines, the first delta
    carrying the role, a last chunk with `choices: []` and `usage` when
    `stream_options.include_usage` is set (every other chunk then has `"usage": null`),
    then `data: [DONE]`. Mid-stream failures are a `data: {"error": {...}}` line.
  * Responses API streaming: typed events (`event:` + `data:` with `type` and
    `sequence_number`): response.created, response.in_progress, output_item.added (a
    `reasoning` item), reasoning_summary_part.added, reasoning_summary_text.delta/.done,
    output_item.added (a `message` item), content_part.added, output_text.delta/.done,
    content_part.done, output_item.done, then per tool call output_item.added (a
    `function_call` item), function_call_arguments.delta (pieces) and .done,
    output_item.done, and response.completed with `usage`
    (`input_tokens_details.cached_tokens`, `output_tokens_details.reasoning_tokens`);
    a failure mid-stream is `response.failed` with `response.error`.
  * Errors: HTTP status with `{"error": {"message", "type", "param", "code"}}`.
Flavors of the Chat Completions stream:
  * "openai": no reasoning text (OpenAI only reports reasoning tokens in usage);
  * "deepseek": `delta.reasoning_content`; usage with `prompt_cache_hit_tokens`,
    `prompt_cache_miss_tokens`, `completion_tokens_details.reasoning_tokens`; keep-alive
    comment lines;
  * "openrouter": `delta.reasoning` plus `delta.reasoning_details` ([{type:
    "reasoning.text", text, format, index}]), `: OPENROUTER PROCESSING` comments, errors
    mid-stream as a chunk with a top-level `error` and `finish_reason: "error"`;
  * "think": a local server without a reasoning parser: `<think>…</think>` inline in
    `content`, cut every 3 characters so tags straddle chunks.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from tests.support.fake_servers.server import FakeVendor, Reply, Request, sse

Flavor = Literal["openai", "deepseek", "openrouter", "think"]

OPENAI_TEST_KEY = "sk-test-openai-0123456789abcdef"
DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4.1", "gpt-5-mini", "o4-mini")


def openai_error(
    message: str, *, type: str = "invalid_request_error", code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": None, "code": code}}


_SUMMARY_REFUSED = {
    "error": {
        "message": "Your organization must be verified to generate reasoning summaries. "
        "Please go to: https://platform.openai.com/settings/organization/general and click "
        "on Verify Organization.",
        "type": "invalid_request_error",
        "param": "reasoning.summary",
        "code": "unsupported_value",
    }
}


class FakeOpenAI(FakeVendor):
    def __init__(
        self,
        *,
        api_key: str | None = OPENAI_TEST_KEY,
        models: tuple[str, ...] = DEFAULT_MODELS,
        flavor: Flavor = "openai",
    ) -> None:
        super().__init__(api_key=api_key, models=models)
        self.flavor: Flavor = flavor
        # False: like an unverified OpenAI organization, refuse `reasoning.summary`.
        self.summaries_allowed = True

    def reset(self) -> None:
        """Back to the initial state: default scenario, models, no queued failures."""
        super().reset()
        self.summaries_allowed = True

    @property
    def base_url(self) -> str:
        """What the SDK's `base_url` should be."""
        return f"{self.url}/v1"

    # ------------------------------------------------------------------ scripting

    def fail_next(
        self,
        status: int,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        code: str | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` requests fail with `status` and an OpenAI error body."""
        headers = {"x-request-id": "req_fake"}
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        kind = "server_error" if status >= 500 else "invalid_request_error"
        if status == 429:
            kind, code = "requests", code or "rate_limit_exceeded"
        body = openai_error(message or f"fake failure {status}", type=kind, code=code)
        self.queue(*[Reply.json(body, status, headers) for _ in range(times)])

    # ------------------------------------------------------------------ routing

    def handle(self, request: Request) -> Reply:
        authorization = request.headers.get("authorization")
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            given = (authorization or "")[7:]
            masked = given[:5] + "*" * 10 + given[-4:] if len(given) > 9 else "***"
            return Reply.json(
                openai_error(
                    f"Incorrect API key provided: {masked}. You can find your API key "
                    "at https://platform.openai.com/account/api-keys.",
                    code="invalid_api_key",
                ),
                401,
            )
        if request.method == "GET" and request.path == "/v1/models":
            data = [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "system"}
                for m in self.models
            ]
            return Reply.json({"object": "list", "data": data})
        if request.method == "POST" and request.path in ("/v1/chat/completions", "/v1/responses"):
            body = request.json()
            model = body.get("model")
            if model not in self.models:
                return self._unknown_model(model)
            if request.path == "/v1/responses":
                if (body.get("reasoning") or {}).get("summary") and not self.summaries_allowed:
                    return Reply.json(_SUMMARY_REFUSED, 400)
                return self._responses(body)
            return self._chat(body)
        return Reply.json(openai_error(f"Unknown path {request.path}"), 404)

    def _unknown_model(self, model: str) -> Reply:
        if self.flavor == "deepseek":  # DeepSeek answers 400 for an unknown model
            return Reply.json(openai_error("Model Not Exist"), 400)
        if self.flavor == "openrouter":
            return Reply.json(
                {"error": {"message": f"{model} is not a valid model ID", "code": 400}}, 400
            )
        return Reply.json(
            openai_error(
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            ),
            404,
        )

    # ------------------------------------------------------------------ chat completions

    def _chat(self, body: dict[str, Any]) -> Reply:
        s = self.scenario
        model = body["model"]
        if not body.get("stream"):
            return Reply.json(self._chat_completion(model))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            payload: dict[str, Any] = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                payload["usage"] = None
            return sse(payload)

        chunks: list[bytes] = []
        if self.flavor == "openrouter":
            chunks.append(b": OPENROUTER PROCESSING\n\n")
        if self.flavor == "deepseek":
            chunks.append(b": keep-alive\n\n")
        chunks.append(chunk({"role": "assistant", "content": ""}))
        content = self._content_chunks(chunk)
        cut = s.cut()
        if cut is not None:
            chunks.extend(content[:cut])
            if s.error_after is not None:
                chunks.append(self._chat_error(model))
            return Reply(chunks=chunks, first_delay=s.first_delay, delay=s.delay,
                         drop=s.drop_after is not None)  # fmt: skip
        chunks.extend(content)
        if s.hold_open:
            return Reply(chunks=chunks, first_delay=s.first_delay, delay=s.delay, hold_open=True)
        for index, (call_id, name, arguments) in enumerate(s.tool_calls):
            head = {"index": index, "id": call_id, "type": "function"}
            head["function"] = {"name": name, "arguments": ""}
            chunks.append(chunk({"tool_calls": [head]}))
            for i in range(0, len(arguments), 7):
                piece = {"index": index, "function": {"arguments": arguments[i : i + 7]}}
                chunks.append(chunk({"tool_calls": [piece]}))
        chunks.append(chunk({}, "tool_calls" if s.tool_calls else "stop"))
        if include_usage:
            usage_chunk = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [],
                "usage": self._chat_usage(),
            }
            chunks.append(sse(usage_chunk))
        chunks.append(sse("[DONE]"))
        return Reply(chunks=chunks, first_delay=s.first_delay, delay=s.delay)

    def _content_chunks(self, chunk: Any) -> list[bytes]:
        s = self.scenario
        out: list[bytes] = []
        if self.flavor == "think":
            whole = "<think>" + "".join(s.reasoning) + "</think>\n\n" + "".join(s.text)
            return [chunk({"content": whole[i : i + 3]}) for i in range(0, len(whole), 3)]
        for kind, piece in s.content():
            if kind == "text":
                out.append(chunk({"content": piece}))
            elif self.flavor == "deepseek":
                out.append(chunk({"content": None, "reasoning_content": piece}))
            elif self.flavor == "openrouter":
                detail = {"type": "reasoning.text", "text": piece, "format": "unknown", "index": 0}
                out.append(
                    chunk({"content": "", "reasoning": piece, "reasoning_details": [detail]})
                )
            # "openai": Chat Completions streams no reasoning text
        return out

    def _chat_error(self, model: str) -> bytes:
        message = self.scenario.error_message
        if self.flavor == "openrouter":
            return sse(
                {
                    "id": "gen-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": model,
                    "error": {"code": "server_error", "message": message},
                    "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
                }
            )
        return sse(openai_error(message, type="server_error"))

    def _chat_usage(self) -> dict[str, Any]:
        s = self.scenario
        base: dict[str, Any] = {
            "prompt_tokens": s.input_tokens,
            "completion_tokens": s.output_tokens,
            "total_tokens": s.input_tokens + s.output_tokens,
        }
        if self.flavor == "openai":
            base["prompt_tokens_details"] = {"cached_tokens": s.cached_tokens, "audio_tokens": 0}
            base["completion_tokens_details"] = {
                "reasoning_tokens": s.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            }
        elif self.flavor == "deepseek":
            base["prompt_cache_hit_tokens"] = s.cached_tokens
            base["prompt_cache_miss_tokens"] = s.input_tokens - s.cached_tokens
            base["completion_tokens_details"] = {"reasoning_tokens": s.reasoning_tokens}
        elif self.flavor == "openrouter":
            base["cost"] = 0.00012
            base["prompt_tokens_details"] = {"cached_tokens": s.cached_tokens}
            base["completion_tokens_details"] = {"reasoning_tokens": s.reasoning_tokens}
        return base

    def _chat_completion(self, model: str) -> dict[str, Any]:
        """`stream: false`: the whole answer in one `chat.completion` (each flavor's message
        fields, as the streamed deltas carry them)."""
        s = self.scenario
        text, reasoning = "".join(s.text), "".join(s.reasoning)
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if self.flavor == "deepseek":
            message["reasoning_content"] = reasoning
        elif self.flavor == "openrouter":
            message["reasoning"] = reasoning
            message["reasoning_details"] = [
                {"type": "reasoning.text", "text": reasoning, "format": "unknown", "index": 0}
            ]
        elif self.flavor == "think":
            message["content"] = f"<think>{reasoning}</think>\n\n{text}"
        finish = "stop"
        if s.tool_calls:
            message["content"] = None
            message["tool_calls"] = [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
                for call_id, name, args in s.tool_calls
            ]
            finish = "tool_calls"
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": self._chat_usage(),
        }

    # ------------------------------------------------------------------ responses API

    def _responses(self, body: dict[str, Any]) -> Reply:
        s = self.scenario
        model = body["model"]
        seq = iter(range(10_000))
        base = {
            "id": "resp_fake",
            "object": "response",
            "created_at": int(time.time()),
            "model": model,
            "output": [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": None,
            "error": None,
            "incomplete_details": None,
        }

        def event(kind: str, **fields: Any) -> bytes:
            return sse({"type": kind, "sequence_number": next(seq), **fields}, event=kind)

        head = [
            event("response.created", response={**base, "status": "in_progress"}),
            event("response.in_progress", response={**base, "status": "in_progress"}),
        ]
        content: list[bytes] = []
        summary = "".join(s.reasoning)
        reasoning_item = {"id": "rs_fake", "type": "reasoning", "summary": []}
        message_item = {
            "id": "msg_fake",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        wants_summary = bool((body.get("reasoning") or {}).get("summary"))
        opening: list[bytes] = []
        if s.reasoning and wants_summary:
            opening += [
                event("response.output_item.added", output_index=0, item=reasoning_item),
                event(
                    "response.reasoning_summary_part.added",
                    item_id="rs_fake",
                    output_index=0,
                    summary_index=0,
                    part={"type": "summary_text", "text": ""},
                ),
            ]
            for piece in s.reasoning:
                content.append(
                    event(
                        "response.reasoning_summary_text.delta",
                        item_id="rs_fake",
                        output_index=0,
                        summary_index=0,
                        delta=piece,
                    )
                )
        between = []
        if s.reasoning and wants_summary:
            done_summary = {"type": "summary_text", "text": summary}
            between = [
                event("response.reasoning_summary_text.done", item_id="rs_fake",
                      output_index=0, summary_index=0, text=summary),
                event("response.reasoning_summary_part.done", item_id="rs_fake",
                      output_index=0, summary_index=0, part=done_summary),
                event("response.output_item.done", output_index=0,
                      item={**reasoning_item, "summary": [done_summary]}),
            ]  # fmt: skip
        out_index = 1 if (s.reasoning and wants_summary) else 0
        between += [
            event("response.output_item.added", output_index=out_index, item=message_item),
            event("response.content_part.added", item_id="msg_fake", output_index=out_index,
                  content_index=0, part={"type": "output_text", "text": "", "annotations": []}),
        ]  # fmt: skip
        text_events = [
            event("response.output_text.delta", item_id="msg_fake", output_index=out_index,
                  content_index=0, delta=piece, logprobs=[])
            for piece in s.text
        ]  # fmt: skip
        # (is content, bytes) in wire order: reasoning deltas, the message's opening
        # events, then text deltas; an error or a drop cuts after `cut` content events.
        sequence = (
            [(False, b) for b in head + opening]
            + [(True, b) for b in content]
            + [(False, b) for b in between]
            + [(True, b) for b in text_events]
        )
        chunks = s.until_cut(sequence)
        if s.cut() is not None:
            if s.error_after is not None:
                failed = {
                    **base,
                    "status": "failed",
                    "error": {"code": "server_error", "message": s.error_message},
                }
                chunks.append(event("response.failed", response=failed))
            return Reply(chunks=chunks, first_delay=s.first_delay, delay=s.delay,
                         drop=s.drop_after is not None)  # fmt: skip
        if s.hold_open:
            return Reply(chunks=chunks, first_delay=s.first_delay, delay=s.delay, hold_open=True)
        text = "".join(s.text)
        done_part = {"type": "output_text", "text": text, "annotations": []}
        final_message = {**message_item, "status": "completed", "content": [done_part]}
        chunks += [
            event("response.output_text.done", item_id="msg_fake", output_index=out_index,
                  content_index=0, text=text, logprobs=[]),
            event("response.content_part.done", item_id="msg_fake", output_index=out_index,
                  content_index=0, part=done_part),
            event("response.output_item.done", output_index=out_index, item=final_message),
        ]  # fmt: skip
        output = [final_message]
        for number, (call_id, name, arguments) in enumerate(s.tool_calls, start=1):
            index = out_index + number
            item = {"id": f"fc_fake{number}", "type": "function_call", "status": "in_progress",
                    "arguments": "", "call_id": call_id, "name": name}  # fmt: skip
            chunks.append(event("response.output_item.added", output_index=index, item=item))
            for i in range(0, len(arguments), 7):
                chunks.append(
                    event("response.function_call_arguments.delta", item_id=item["id"],
                          output_index=index, delta=arguments[i : i + 7])
                )  # fmt: skip
            done = {**item, "status": "completed", "arguments": arguments}
            chunks += [
                event("response.function_call_arguments.done", item_id=item["id"],
                      output_index=index, name=name, arguments=arguments),
                event("response.output_item.done", output_index=index, item=done),
            ]  # fmt: skip
            output.append(done)
        usage = {
            "input_tokens": s.input_tokens,
            "input_tokens_details": {"cached_tokens": s.cached_tokens},
            "output_tokens": s.output_tokens,
            "output_tokens_details": {"reasoning_tokens": s.reasoning_tokens},
            "total_tokens": s.input_tokens + s.output_tokens,
        }
        completed = {**base, "status": "completed", "output": output, "usage": usage}
        chunks.append(event("response.completed", response=completed))
        return Reply(chunks=chunks, first_delay=s.first_delay, delay=s.delay)
