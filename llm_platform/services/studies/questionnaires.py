"""Questionnaire answers: validated per item kind (every failing item reported at once) and
attention checks scored."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from llm_platform.core.errors import ValidationFailed
from llm_platform.schemas.studies import AnswerValue, Item, ItemError, PublicItem

DEFAULT_TEXT_LIMIT = 10_000


class AnswersInvalid(ValidationFailed):
    type = "invalid_answers"

    def __init__(self, errors: list[ItemError]) -> None:
        super().__init__(
            "Some answers are not valid: " + "; ".join(f"{e.item}: {e.detail}" for e in errors)
        )
        self.extra = {"errors": [e.model_dump() for e in errors]}


@dataclass(frozen=True)
class CheckedAnswer:
    item: Item
    value: AnswerValue
    attention_ok: bool | None


def public(items: list[Item]) -> list[PublicItem]:
    return [PublicItem.model_validate(i.model_dump(exclude={"attention_check"})) for i in items]


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _problem(item: Item, value: Any) -> str | None:
    """Why `value` is not an answer to `item` (None: it is)."""
    if item.kind == "likert":
        assert item.scale is not None
        if not isinstance(value, int) or isinstance(value, bool):
            return "a whole number on the scale"
        if not item.scale.min <= value <= item.scale.max:
            return f"between {item.scale.min} and {item.scale.max}"
    elif item.kind == "single":
        if not isinstance(value, str) or value not in (item.options or []):
            return "one of the options"
    elif item.kind == "multiple":
        if not isinstance(value, list) or any(v not in (item.options or []) for v in value):
            return "a list of the options"
        if len(set(value)) != len(value):
            return "each option at most once"
    elif item.kind == "text":
        if not isinstance(value, str):
            return "text"
        limit = item.max_length or DEFAULT_TEXT_LIMIT
        if len(value) > limit:
            return f"at most {limit} characters"
        if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
            return "text without control characters"
    elif item.kind == "number":
        if not _is_number(value):
            return "a number"
        if item.min is not None and value < item.min:
            return f"at least {item.min:g}"
        if item.max is not None and value > item.max:
            return f"at most {item.max:g}"
    return None


def _attention(item: Item, value: AnswerValue) -> bool | None:
    if item.attention_check is None:
        return None
    expected = item.attention_check.expected
    if isinstance(expected, list) and isinstance(value, list):
        return sorted(expected) == sorted(value)
    if _is_number(expected) and _is_number(value):
        return float(expected) == float(value)  # type: ignore[arg-type]
    return bool(expected == value)


def check(items: list[Item], answers: dict[str, AnswerValue]) -> list[CheckedAnswer]:
    """Every answer valid and every required item answered, else `AnswersInvalid`."""
    by_id = {i.id: i for i in items}
    errors = [ItemError(item=k[:128], detail="no such item") for k in answers if k not in by_id]
    checked: list[CheckedAnswer] = []
    for item in items:
        value = answers.get(item.id)
        if _empty(value):
            if item.required:
                errors.append(ItemError(item=item.id, detail="an answer is required"))
            else:
                checked.append(CheckedAnswer(item, None, _attention(item, None)))
            continue
        problem = _problem(item, value)
        if problem is not None:
            errors.append(ItemError(item=item.id, detail=f"expected {problem}"))
        else:
            checked.append(CheckedAnswer(item, value, _attention(item, value)))
    if errors:
        raise AnswersInvalid(errors)
    return checked
