"""Structured output: ask a model for one JSON value valid against a pydantic model.

The request carries the schema (`ChatRequest.response_schema`: adapters use the vendor's
constrained mode where it has one, llama.cpp its grammar) and the system prompt states it
too, for models without such a mode. The answer is validated; an invalid one is retried
once with the validation error shown to the model, then `StructuredOutputError` is raised.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from llm_platform.providers.base import ChatMessage, ChatRequest, Provider, UsageEvent, merge_usage
from llm_platform.providers.errors import ProviderError

T = TypeVar("T", bound=BaseModel)

MAX_ERROR_CHARS = 1500


class StructuredOutputError(ProviderError):
    """The model's answer was not valid against the schema, twice."""

    status_code = 502
    type = "structured_output_invalid"


@dataclass(frozen=True, slots=True)
class Structured(Generic[T]):
    value: T
    usage: UsageEvent
    attempts: int
    raw: str


def json_text(text: str) -> str:
    """The JSON inside a model's answer: code fences and prose around one object dropped."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    body = body.strip()
    if body[:1] in ("{", "["):
        return body
    start = body.find("{")
    end = body.rfind("}")
    if start != -1 and end > start:
        return body[start : end + 1]
    return body


def schema_instruction(schema: dict[str, object]) -> str:
    return (
        "Answer with one JSON object only (no prose, no code fence), valid against this "
        "JSON Schema:\n" + json.dumps(schema, separators=(",", ":"))
    )


async def structured(
    provider: Provider,
    model: str,
    messages: list[ChatMessage],
    output: type[T],
    *,
    system: str | None = None,
    temperature: float | None = 0.0,
    max_tokens: int | None = None,
) -> Structured[T]:
    """One validated value of `output` from the model (one retry with the error)."""
    schema = output.model_json_schema()
    instruction = schema_instruction(schema)
    prompt = f"{system}\n\n{instruction}" if system else instruction
    conversation = list(messages)
    usage = UsageEvent()
    error = ""
    for attempt in (1, 2):
        request = ChatRequest(
            model=model,
            messages=conversation,
            system=prompt,
            temperature=temperature,
            max_tokens=max_tokens,
            response_schema=schema,
            stream=False,
        )
        completion = await provider.complete(request)
        usage = merge_usage(usage, completion.usage)
        if completion.error is not None and not completion.text:
            raise StructuredOutputError(provider.name, completion.error.message)
        try:
            value = output.model_validate_json(json_text(completion.text))
        except ValidationError as exc:
            error = str(exc)[:MAX_ERROR_CHARS]
            conversation = [
                *messages,
                ChatMessage(role="assistant", content=completion.text[:4000]),
                ChatMessage(
                    role="user",
                    content=(
                        "That answer is not valid against the schema:\n"
                        f"{error}\nAnswer again with the corrected JSON object only."
                    ),
                ),
            ]
            continue
        return Structured(value=value, usage=usage, attempts=attempt, raw=completion.text)
    raise StructuredOutputError(
        provider.name, f"The model's structured answer was invalid twice: {error}"
    )
