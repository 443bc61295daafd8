"""The intent router's editable configuration: keyword/regex rules with weights
(`config/intent_keywords.json`) and labelled examples for the embedding stage
(`config/intent_examples.json`), validated and compiled once when the router is built."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llm_platform.core.errors import AppError


class Intent(StrEnum):
    CHAT = "chat"
    DOCUMENT = "document"
    MEMORY_REMEMBER = "memory_remember"
    MEMORY_RECALL = "memory_recall"
    MEMORY_FORGET = "memory_forget"
    SHOPPING = "shopping"
    PRODUCT = "product"
    IMAGE = "image"


class IntentConfigError(AppError):
    """An intent rules or examples file is missing or invalid (names the file)."""

    status_code = 500
    type = "intent_config_invalid"


class Rule(BaseModel):
    """One weighted match: a `keyword` (a phrase, whole words, any spacing) or a `regex`."""

    model_config = ConfigDict(extra="forbid")
    keyword: str | None = Field(default=None, min_length=1)
    regex: str | None = Field(default=None, min_length=1)
    weight: float = 1.0

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        if (self.keyword is None) == (self.regex is None):
            raise ValueError("a rule has exactly one of `keyword` or `regex`")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"invalid regex {self.regex!r}: {exc}") from None
        return self

    def pattern(self) -> re.Pattern[str]:
        if self.regex is not None:
            return re.compile(self.regex, re.IGNORECASE)
        words = (self.keyword or "").lower().split()
        return re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)")


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # rules decide when the best score reaches this and leads the next by rules_margin
    rules_min_score: float = 2.0
    rules_margin: float = Field(default=1.0, ge=0)
    # added to `document` when files are attached (rules score / embedding similarity)
    files_bonus: float = 1.5
    files_bonus_embedding: float = 0.06
    # with an image attached, another intent wins only with this rules score (and sure)
    image_override_min_score: float = 3.0
    # embedding: mean of the k closest examples per intent, averaged with the centroid
    embedding_k: int = Field(default=3, ge=1, le=50)
    embedding_min_score: float = Field(default=0.2, ge=-1, le=1)
    embedding_margin: float = Field(default=0.05, ge=0, le=2)
    # both unsure and no LLM: embedding score + this x rules score picks the intent
    combined_rules_weight: float = Field(default=0.04, ge=0)


class KeywordFile(BaseModel):
    model_config = ConfigDict(extra="ignore")  # "_comment"
    default_intent: Intent = Intent.CHAT
    thresholds: Thresholds = Field(default_factory=Thresholds)
    intents: dict[Intent, list[Rule]]


class ExampleFile(BaseModel):
    model_config = ConfigDict(extra="ignore")
    examples: dict[Intent, list[str]]

    @model_validator(mode="after")
    def _every_intent(self) -> ExampleFile:
        missing = [i.value for i in Intent if not self.examples.get(i)]
        if missing:
            raise ValueError(f"no examples for {', '.join(missing)}")
        return self


@dataclass(frozen=True, slots=True)
class CompiledRule:
    intent: Intent
    pattern: re.Pattern[str]
    weight: float


def packaged(name: str) -> Path:
    return Path(str(resources.files("llm_platform") / "config" / name))


M = TypeVar("M", bound=BaseModel)


def _read(path: Path, model: type[M]) -> M:
    try:
        return model.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise IntentConfigError(f"intent file not found: {path}") from None
    except (ValueError, ValidationError) as exc:
        raise IntentConfigError(f"invalid intent file {path}: {exc}") from None


def load_keywords(path: Path | None) -> KeywordFile:
    return _read(path or packaged("intent_keywords.json"), KeywordFile)


def load_examples(path: Path | None) -> ExampleFile:
    return _read(path or packaged("intent_examples.json"), ExampleFile)


def compile_rules(config: KeywordFile) -> list[CompiledRule]:
    return [
        CompiledRule(intent, rule.pattern(), rule.weight)
        for intent, rules in config.intents.items()
        for rule in rules
    ]


_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def normalise(text: str) -> str:
    return " ".join(text.translate(_QUOTES).lower().split())


def rule_scores(rules: list[CompiledRule], text: str) -> dict[Intent, float]:
    """Per intent, the summed weights of its rules matching the (normalised) text."""
    scores = dict.fromkeys(Intent, 0.0)
    for rule in rules:
        if rule.pattern.search(text):
            scores[rule.intent] += rule.weight
    return scores
