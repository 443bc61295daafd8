"""The agents' ports over the platform's real parts: the product catalog and the shopping
interview (`agents.product_agent`, `agents.shopping_agent` on `rag.products.ProductSearch`).
The intent router (`agents.intent.IntentRouter`) satisfies `agents.ports.Router` as it is.
The memory store is `agents.memory_agent` on the platform's database."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.agents import memory_agent, memory_store
from llm_platform.agents.llm import LlmRef
from llm_platform.agents.ports import InterviewStep
from llm_platform.agents.product_agent import find_products
from llm_platform.agents.shopping_agent import ShoppingCriteria, interview_step
from llm_platform.agents.state import MemoryChange, RecalledMemory
from llm_platform.agents.summary import history_within_budget, refresh_session_summary
from llm_platform.core.config import Settings
from llm_platform.db.engine import Database
from llm_platform.db.repositories.memories import MemoryRepository
from llm_platform.providers.base import ChatMessage
from llm_platform.rag.embeddings import Embedder
from llm_platform.rag.products import ProductSearch


def _criteria(data: Mapping[str, Any] | None) -> ShoppingCriteria:
    return ShoppingCriteria.model_validate(dict(data)) if data else ShoppingCriteria()


@dataclass(frozen=True)
class CatalogFinder:
    """`ProductFinder`: the catalog search with the interview's criteria (budget, category,
    use case, must-haves) and the user's words."""

    search: ProductSearch

    async def find(
        self, query: str, criteria: Mapping[str, Any] | None, limit: int
    ) -> Sequence[Mapping[str, Any]]:
        cards = await find_products(self.search, _criteria(criteria), query, limit)
        return [card.model_dump() for card in cards]


@dataclass(frozen=True)
class ShoppingInterviewer:
    """`Interviewer`: one step of the shopping interview, its options from the catalog's
    categories and prices; the model reads free-text answers the rules do not."""

    search: ProductSearch
    llm: LlmRef | None

    async def step(self, criteria: Mapping[str, Any] | None, user_text: str) -> InterviewStep:
        facts = await self.search.facts()
        step = await interview_step(
            _criteria(criteria), user_text, self.llm, catalog=facts if facts.categories else None
        )
        return InterviewStep(
            criteria=step.criteria.model_dump(mode="json"),
            question=step.question,
            options=list(step.options),
            field=step.field,
            ready=step.ready,
        )


# What a "remember that ..." request says, without the request (the rule fallback when no
# model is configured for the agents).
_REMEMBER_PREFIX = re.compile(
    r"^\s*(?:please\s+)?(?:(?:can|could|would) you\s+)?(?:remember|note|keep in mind|"
    r"don'?t forget|do not forget)\s*(?:that\s+)?[:,]?\s*",
    re.IGNORECASE,
)


def stated_fact(user_text: str) -> str:
    """The fact in a "remember that ..." request, in the user's own words ("" when the
    message is not such a request: other chat is never stored as said)."""
    if not _REMEMBER_PREFIX.match(user_text):
        return ""
    fact = _REMEMBER_PREFIX.sub("", user_text, count=1).strip().rstrip(".!?")
    return fact[:1].upper() + fact[1:] if fact else ""


def count_tokens(embedder: Embedder | None, text: str) -> int:
    """Tokens as the embedding model counts them (about 4 characters each without one)."""
    if embedder is not None:
        return embedder.count_tokens(text)
    return max(1, len(text) // 4)


@dataclass(frozen=True)
class MemoryAdapter:
    """`MemoryStore`: the memory agent (`agents.memory_agent`) on the platform's database,
    behind the user's own switch (`PUT /api/v1/memories/settings`): off, nothing is recalled
    or saved (forgetting still works). Without a model for the agents, "remember that X"
    stores X as said (sensitive text is still refused)."""

    db: Database
    embedder: Embedder | None
    llm: LlmRef | None
    settings: Settings

    def _count(self, text: str) -> int:
        return count_tokens(self.embedder, text)

    async def has_any(self, user_id: str) -> bool:
        async with self.db.read_sessions() as session:
            if not await memory_agent.memory_enabled(session, user_id):
                return False
            return await MemoryRepository(session).any_for_user(user_id)

    async def recall(self, user_id: str, query: str) -> Sequence[RecalledMemory]:
        async with self.db.read_sessions() as session:
            if not await memory_agent.memory_enabled(session, user_id):
                return []
            found = await memory_agent.recall(
                session,
                self.embedder,
                user_id,
                query,
                token_budget=self.settings.MEMORY_RECALL_TOKENS,
                count_tokens=self._count,
                min_score=self.settings.MEMORY_RECALL_MIN_SCORE,
            )
        return [RecalledMemory(id=m.id, text=m.text, score=m.score) for m in found]

    async def remember(
        self,
        *,
        user_id: str,
        user_text: str,
        session_id: str | None,
        query_id: str,
        when: datetime,
    ) -> Sequence[MemoryChange]:
        async with self.db.write_sessions() as session, session.begin():
            if not await memory_agent.memory_enabled(session, user_id):
                return []
            if self.llm is not None:
                changes = await memory_agent.remember(
                    session,
                    self.embedder,
                    self.llm,
                    user_id=user_id,
                    user_text=user_text,
                    session_id=session_id,
                    query_id=query_id,
                    when=when,
                    sensitive_categories=self.settings.MEMORY_SENSITIVE_CATEGORIES,
                    top_k=self.settings.MEMORY_RECONCILE_TOP_K,
                )
            else:
                changes = await self._remember_as_said(
                    session, user_id, user_text, session_id, query_id, when
                )
        return [_change(c) for c in changes]

    async def _remember_as_said(
        self,
        session: AsyncSession,
        user_id: str,
        user_text: str,
        session_id: str | None,
        query_id: str,
        when: datetime,
    ) -> list[memory_agent.MemoryChange]:
        fact = stated_fact(user_text)
        categories = self.settings.MEMORY_SENSITIVE_CATEGORIES
        if not fact or memory_agent.is_sensitive(fact, None, categories):
            return []
        same = await memory_store.search(
            session, self.embedder, user_id, fact, limit=1, min_score=0.97
        )
        if same and memory_store.normalised(same[0].memory.text) == memory_store.normalised(fact):
            return [memory_agent.MemoryChange(action="none", id=same[0].memory.id, text=fact)]
        record = await memory_store.add_memory(
            session,
            self.embedder,
            user_id=user_id,
            text=fact,
            kind="fact",
            reason="stated in chat",
            session_id=session_id,
            query_id=query_id,
            source_time=when,
        )
        return [memory_agent.MemoryChange(action="add", id=record.id, text=record.text)]

    async def learn(
        self,
        *,
        user_id: str,
        user_text: str,
        session_id: str | None,
        query_id: str,
        when: datetime,
    ) -> Sequence[MemoryChange]:
        if self.llm is None:
            return []  # ordinary chat is never stored as said: a model reads it
        async with self.db.read_sessions() as session:
            if await MemoryRepository(session).learned_from(user_id, query_id):
                return []  # this turn was read already (a job run twice)
        return await self.remember(
            user_id=user_id,
            user_text=user_text,
            session_id=session_id,
            query_id=query_id,
            when=when,
        )

    async def forget(self, *, user_id: str, what: str) -> Sequence[MemoryChange]:
        async with self.db.write_sessions() as session, session.begin():
            changes = await memory_agent.forget(
                session,
                self.embedder,
                self.llm,
                user_id=user_id,
                what=what,
                top_k=self.settings.MEMORY_RECONCILE_TOP_K,
            )
        return [_change(c) for c in changes]

    def prompt(self, memories: Sequence[RecalledMemory]) -> str:
        return memory_agent.memory_prompt(
            [
                memory_agent.RecalledMemory(id=m["id"], text=m["text"], score=m["score"])
                for m in memories
            ]
        )


def _change(change: memory_agent.MemoryChange) -> MemoryChange:
    return MemoryChange(
        action=change.action,
        id=change.id,
        text=change.text or "",
        old_text=change.old_text,
    )


SUMMARY_BLOCK = "The earlier part of this conversation, summarised:\n"


@dataclass(frozen=True)
class HistoryWindow:
    """Long conversations: past HISTORY_TOKEN_BUDGET tokens the writer reads the session's
    rolling summary and the newest messages instead of the whole history; the summary is
    brought up to date after the turn, in the background (with a model for the agents)."""

    db: Database
    embedder: Embedder | None
    llm: LlmRef | None
    budget: int

    def count(self, text: str) -> int:
        return count_tokens(self.embedder, text)

    def over_budget(self, messages: Sequence[ChatMessage]) -> bool:
        return sum(self.count(m.content) for m in messages) > self.budget

    async def fit(
        self, session_id: str, messages: Sequence[ChatMessage]
    ) -> tuple[str | None, list[ChatMessage]]:
        """(the summary, when one is used; the messages the writer reads)."""
        if not self.over_budget(messages):
            return None, list(messages)
        async with self.db.read_sessions() as session:
            return await history_within_budget(
                session,
                session_id=session_id,
                messages=messages,
                budget_tokens=self.budget,
                count_tokens=self.count,
            )

    async def refresh(self, session_id: str) -> None:
        """The background job (per session; safe to run twice)."""
        if self.llm is None:
            return
        await refresh_session_summary(
            self.db, self.llm, session_id, budget_tokens=self.budget, count_tokens=self.count
        )
