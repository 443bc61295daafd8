"""The coordinator's intent router: which agent(s) a message needs.

Three stages, cheapest first, each stopping the search when it is sure:
1. rules: weighted keywords and regexes from `config/intent_keywords.json` (editable;
   `INTENT_KEYWORDS_PATH` names another file);
2. embedding similarity to labelled examples (`config/intent_examples.json`) with the local
   MiniLM embedder: per intent the mean of the k closest examples averaged with the
   intent's centroid, sure when the best leads the next by a margin (the examples' vectors
   are computed once, on first use, and cached for the process);
3. only when both are unsure, an LLM classifier with JSON-schema-constrained output (an
   enum of the intents) through `providers.structured`; an invalid answer is retried once,
   then the router falls back to the default intent (`decided_by="default"`).

An attached image makes it an image question unless the rules are sure of a memory,
shopping or product intent; attached files raise `document`. Every stage's best intent,
score and time land in the `RoutingDecision`.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from llm_platform.agents.intent_rules import (
    CompiledRule,
    ExampleFile,
    Intent,
    KeywordFile,
    Thresholds,
    compile_rules,
    load_examples,
    load_keywords,
    normalise,
    rule_scores,
)
from llm_platform.agents.llm import LlmRef
from llm_platform.core.config import Settings
from llm_platform.core.logging import get_logger
from llm_platform.providers.base import ChatMessage
from llm_platform.providers.errors import ProviderError
from llm_platform.providers.structured import structured
from llm_platform.rag.embeddings import Embedder, Vectors

__all__ = ["Intent", "IntentChoice", "IntentRouter", "RoutingDecision", "StageScore"]

log = get_logger("llm_platform.agents.intent")

Stage = Literal["rules", "embedding", "llm"]
DecidedBy = Literal["rules", "embedding", "llm", "default"]

# An attached image yields to these when the rules are sure of them.
IMAGE_YIELDS_TO = frozenset(
    {
        Intent.MEMORY_REMEMBER,
        Intent.MEMORY_RECALL,
        Intent.MEMORY_FORGET,
        Intent.SHOPPING,
        Intent.PRODUCT,
    }
)
# The LLM classifier's answer carries no calibrated probability: its decisions get this.
LLM_CONFIDENCE = 0.7
IMAGE_CONFIDENCE = 0.9  # an attached image, and no clear other intent
MAX_ROUTED_CHARS = 2000  # the stages read the message's start (MiniLM reads ~256 tokens)


class StageScore(BaseModel):
    stage: Stage
    intent: Intent | None  # the stage's best intent (None: no evidence, or it failed)
    score: float  # rules: summed weights; embedding: similarity; llm: 1 valid, 0 not
    ms: float
    sure: bool = False  # whether this stage was sure enough to decide


class RoutingDecision(BaseModel):
    intent: Intent
    confidence: float = Field(ge=0, le=1)
    decided_by: DecidedBy
    stages: list[StageScore]
    total_ms: float


# The LLM classifier's answer. Its JSON schema constrains the model's output: the enum inline
# (no `$ref`) for grammar converters and small models, and no description (no docstring) for
# a small model to echo.
class IntentChoice(BaseModel):
    model_config = ConfigDict(extra="ignore")
    intent: Annotated[Intent, WithJsonSchema({"type": "string", "enum": [i.value for i in Intent]})]


CLASSIFIER_PROMPT = """You route a user's message to the assistant that handles it. Intents:
- chat: general conversation, knowledge questions, writing, advice, anything else
- document: a question about a file the user attached or uploaded (summarise, find, quote)
- memory_remember: the user asks you to remember or note a fact or preference about them
- memory_recall: the user asks what you remember or know about them (their name, budget, ...)
- memory_forget: the user asks you to forget or delete something you remember about them
- shopping: the user wants help choosing something to buy (needs, budget, recommendations)
- product: the user looks up specific products: search, price, specs, availability
- image: a question about an image the user attached
Choose the one intent of the user's message and answer like {"intent": "chat"}."""


@dataclass(frozen=True, slots=True)
class _Ranked:
    intent: Intent | None
    score: float
    margin: float


def _rank(scores: dict[Intent, float]) -> _Ranked:
    ordered = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ordered[0], ordered[1]
    return _Ranked(best, top, top - second)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _squash(margin: float, scale: float) -> float:
    """A confidence in [0, 1) from a lead over the runner-up."""
    lead = max(margin, 0.0)
    return round(lead / (lead + scale), 3)


class ExampleIndex:
    """The labelled examples' vectors: computed once per process and embedder, on first use."""

    _cache: ClassVar[dict[tuple[str, str], Vectors]] = {}

    def __init__(self, examples: ExampleFile, embedder: Embedder, k: int) -> None:
        self.embedder = embedder
        self.k = k
        self.texts = [t for texts in examples.examples.values() for t in texts]
        self.labels = np.array(
            [list(Intent).index(i) for i, texts in examples.examples.items() for _ in texts]
        )
        digest = hashlib.sha256("\n".join(self.texts).encode()).hexdigest()
        self.key = (embedder.model_name, digest)
        self._lock = asyncio.Lock()
        self._vectors: Vectors | None = None
        self._centroids: Vectors | None = None

    async def _ensure(self) -> tuple[Vectors, Vectors]:
        if self._vectors is None or self._centroids is None:
            async with self._lock:
                if self._vectors is None:
                    vectors = self._cache.get(self.key)
                    if vectors is None:
                        vectors = await self.embedder.embed_documents(self.texts)
                        self._cache[self.key] = vectors
                    centroids = np.zeros((len(Intent), vectors.shape[1]), dtype=np.float32)
                    for index in range(len(Intent)):
                        rows = vectors[self.labels == index]
                        if len(rows):
                            mean = rows.mean(axis=0)
                            centroids[index] = mean / (np.linalg.norm(mean) or 1.0)
                    self._vectors, self._centroids = vectors, centroids
        assert self._vectors is not None and self._centroids is not None
        return self._vectors, self._centroids

    async def warm_up(self) -> None:
        await self._ensure()

    async def scores(self, text: str) -> dict[Intent, float]:
        vectors, centroids = await self._ensure()
        query = await self.embedder.embed_query(text)
        sims = vectors @ query
        central = centroids @ query
        out: dict[Intent, float] = {}
        for index, intent in enumerate(Intent):
            own = sims[self.labels == index]
            if not len(own):
                out[intent] = -1.0
                continue
            nearest = np.sort(own)[-self.k :]
            out[intent] = float(0.5 * nearest.mean() + 0.5 * central[index])
        return out


class IntentRouter:
    def __init__(
        self,
        keywords: KeywordFile,
        examples: ExampleFile,
        embedder: Embedder | None,
        llm: LlmRef | None,
        *,
        llm_timeout: float = 10.0,
    ) -> None:
        self.config = keywords
        self.thresholds: Thresholds = keywords.thresholds
        self.rules: list[CompiledRule] = compile_rules(keywords)
        self.examples = examples
        self.index = (
            ExampleIndex(examples, embedder, self.thresholds.embedding_k) if embedder else None
        )
        self.llm = llm
        self.llm_timeout = llm_timeout

    @classmethod
    def build(
        cls, settings: Settings, embedder: Embedder | None, llm: LlmRef | None
    ) -> IntentRouter:
        """From the settings' files (the packaged ones by default); a bad file fails the
        start with a message naming it."""
        return cls(
            load_keywords(settings.INTENT_KEYWORDS_PATH),
            load_examples(settings.INTENT_EXAMPLES_PATH),
            embedder,
            llm if settings.INTENT_LLM_ENABLED else None,
            llm_timeout=settings.INTENT_LLM_TIMEOUT_SECONDS,
        )

    # ------------------------------------------------------------------ the stages
    def rules_stage(self, text: str, *, has_files: bool) -> tuple[StageScore, dict[Intent, float]]:
        started = time.perf_counter()
        scores = rule_scores(self.rules, normalise(text))
        if has_files:
            scores[Intent.DOCUMENT] += self.thresholds.files_bonus
        ranked = _rank(scores)
        sure = (
            ranked.score >= self.thresholds.rules_min_score
            and ranked.margin >= self.thresholds.rules_margin
        )
        stage = StageScore(
            stage="rules",
            intent=ranked.intent if ranked.score > 0 else None,
            score=round(ranked.score, 3),
            ms=_ms(started),
            sure=sure,
        )
        return stage, scores

    async def embedding_stage(
        self, text: str, *, has_files: bool
    ) -> tuple[StageScore, dict[Intent, float]] | None:
        if self.index is None:
            return None
        started = time.perf_counter()
        try:
            scores = await self.index.scores(text)
        except Exception as exc:  # a broken embedder skips the stage, not the routing
            log.warning("intent_embedding_failed", error=str(exc))
            return StageScore(stage="embedding", intent=None, score=0.0, ms=_ms(started)), {}
        if has_files:
            scores[Intent.DOCUMENT] += self.thresholds.files_bonus_embedding
        ranked = _rank(scores)
        sure = (
            ranked.score >= self.thresholds.embedding_min_score
            and ranked.margin >= self.thresholds.embedding_margin
        )
        stage = StageScore(
            stage="embedding",
            intent=ranked.intent,
            score=round(ranked.score, 4),
            ms=_ms(started),
            sure=sure,
        )
        return stage, scores

    async def llm_stage(
        self, llm: LlmRef, text: str, *, has_images: bool, has_files: bool
    ) -> StageScore:
        started = time.perf_counter()
        attached = [name for name, on in (("image(s)", has_images), ("file(s)", has_files)) if on]
        content = f"Message: {text}\nAttached: {', '.join(attached) or 'nothing'}"
        try:
            answer = await asyncio.wait_for(
                structured(
                    llm.provider,
                    llm.model,
                    [ChatMessage(role="user", content=content)],
                    IntentChoice,
                    system=CLASSIFIER_PROMPT,
                    max_tokens=64,
                ),
                self.llm_timeout,
            )
        except (ProviderError, TimeoutError) as exc:
            log.warning("intent_llm_failed", error=str(exc) or type(exc).__name__)
            return StageScore(stage="llm", intent=None, score=0.0, ms=_ms(started))
        return StageScore(
            stage="llm", intent=answer.value.intent, score=1.0, ms=_ms(started), sure=True
        )

    # ------------------------------------------------------------------ the decision
    def default_intent(self, *, has_images: bool, has_files: bool) -> Intent:
        if has_images:
            return Intent.IMAGE
        if has_files:
            return Intent.DOCUMENT
        return self.config.default_intent

    async def route(
        self, text: str, *, has_images: bool, has_files: bool, use_llm: bool = True
    ) -> RoutingDecision:
        started = time.perf_counter()
        text = text[:MAX_ROUTED_CHARS]
        stages: list[StageScore] = []

        def decide(intent: Intent, confidence: float, by: DecidedBy) -> RoutingDecision:
            return RoutingDecision(
                intent=intent,
                confidence=min(max(confidence, 0.0), 1.0),
                decided_by=by,
                stages=stages,
                total_ms=_ms(started),
            )

        rules, rule_score = self.rules_stage(text, has_files=has_files)
        stages.append(rules)
        rules_margin = _rank(rule_score).margin
        sure_of = rules.intent if rules.sure else None
        if has_images:
            # An image question, unless the text is clearly about something else.
            if (
                sure_of is not None
                and sure_of in IMAGE_YIELDS_TO
                and rules.score >= self.thresholds.image_override_min_score
            ):
                return decide(sure_of, _squash(rules_margin, 1.0), "rules")
            return decide(Intent.IMAGE, IMAGE_CONFIDENCE, "rules")
        fallback = self.default_intent(has_images=False, has_files=has_files)
        if not text.strip():
            return decide(fallback, 0.0, "default")
        if sure_of is not None:
            return decide(sure_of, _squash(rules_margin, 1.0), "rules")

        embedded = await self.embedding_stage(text, has_files=has_files)
        if embedded is not None:
            stage, emb_score = embedded
            stages.append(stage)
            # A rule against the nearest examples' intent (a question about someone else
            # is not "remember") vetoes it: then the rules' evidence and the scores decide.
            vetoed = stage.intent is not None and rule_score.get(stage.intent, 0.0) < 0
            if stage.sure and stage.intent is not None and not vetoed:
                return decide(stage.intent, _squash(_rank(emb_score).margin, 0.05), "embedding")
        else:
            emb_score = {}

        if use_llm and self.llm is not None:
            llm = await self.llm_stage(self.llm, text, has_images=False, has_files=has_files)
            stages.append(llm)
            if llm.intent is not None:
                return decide(llm.intent, LLM_CONFIDENCE, "llm")
            return decide(fallback, 0.0, "default")

        # Both unsure, no LLM: the embedding's scores nudged by the rules' evidence.
        if emb_score:
            weight = self.thresholds.combined_rules_weight
            combined = {i: emb_score[i] + weight * rule_score[i] for i in Intent}
            best = _rank(combined)
            if best.intent is not None:
                return decide(best.intent, _squash(best.margin, 0.05), "embedding")
        if rules.intent is not None:
            return decide(rules.intent, _squash(rules_margin, 1.0), "rules")
        return decide(fallback, 0.0, "default")

    async def warm_up(self) -> None:
        """Embed the examples now rather than on the first routed message."""
        if self.index is not None:
            await self.index.warm_up()
