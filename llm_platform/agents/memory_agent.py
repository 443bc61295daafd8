"""The memory agent: remembers durable facts and preferences the *user* states, reconciles
them with what it already knows (one decision per fact, against the closest memories shown
with temporary ids), recalls the relevant ones within a token budget, and forgets on request.

Pure agent logic: the graph hands it a database session, the embedder (None: keyword
search) and the model to call; every write goes through `memory_store` (an event per change).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.agents import memory_store as store
from llm_platform.agents.llm import LlmRef
from llm_platform.core.config import DEFAULT_MEMORY_SENSITIVE_CATEGORIES
from llm_platform.core.logging import get_logger
from llm_platform.db.models import Memory
from llm_platform.db.repositories.memories import MemoryRepository, MemorySwitchRepository
from llm_platform.providers.base import ChatMessage
from llm_platform.providers.errors import ProviderError
from llm_platform.providers.structured import structured
from llm_platform.rag.embeddings import Embedder

log = get_logger("llm_platform.agents.memory")

TokenCounter = Callable[[str], int]
MAX_USER_TEXT = 8000
# The closest existing memories (top k, at least this close) are shown to the reconciler:
# a low floor, since a correction can share few words with what it corrects ("Rides an
# e-bike now" vs "Drives a Renault Clio": cosine 0.16 with MiniLM) and an extra candidate
# costs only prompt tokens. An exact (normalised) or near-identical one (DUPLICATE_SCORE)
# makes the new fact a duplicate without a model call.
CANDIDATE_MIN_SCORE = 0.1
DUPLICATE_SCORE = 0.97
FORGET_MIN_SCORE = 0.35


# ---------------------------------------------------------------- model I/O (constrained JSON)
class ExtractedFact(BaseModel):
    text: str = Field(
        min_length=1,
        max_length=300,
        description="One self-contained statement about the user, e.g. 'Lives in Lyon'.",
    )
    kind: Literal["fact", "preference"]
    category: str = Field(
        max_length=40,
        description="general, work, family, food, hobby, travel, location, ... or health, "
        "credentials, financial_account, sexual_orientation, religion, politics",
    )


class Extraction(BaseModel):
    facts: list[ExtractedFact] = Field(default_factory=list, max_length=20)


class Decision(BaseModel):
    action: Literal["add", "update", "delete", "none"]
    id: str | None = Field(
        default=None, max_length=8, description="the memory's id, for update/delete"
    )
    text: str | None = Field(default=None, max_length=1000, description="text for add/update")


class ForgetSelection(BaseModel):
    ids: list[str] = Field(default_factory=list, max_length=20)


EXTRACT_SYSTEM = (
    "You extract durable facts and preferences that the user states about themselves in "
    "their message (who they are, where they live, work, family, likes and dislikes, plans). "
    "Only what the user says about themselves: no questions, no passing requests, nothing "
    "about other people unless it concerns the user, nothing you infer. Write each as a "
    "short statement without the word 'user' when avoidable (e.g. 'Lives in Lyon', 'Prefers "
    "window seats'). Do not add dates the user did not give; the conversation took place on "
    "{date}, so resolve 'tomorrow' or 'next week' against it. Mark the category honestly "
    "(health, credentials, financial_account, ... are never stored). No facts: an empty list."
)
RECONCILE_SYSTEM = (
    "You keep a list of memories about a user. Given the existing memories closest to a new "
    "piece of information, decide ONE action: 'add' (new information), 'update' (it "
    "corrects or refines memory <id>: give the merged text), 'delete' (it says memory <id> "
    "is no longer true and nothing replaces it), or 'none' (already known, or not worth "
    "keeping). Refer to memories only by the ids shown."
)
FORGET_SYSTEM = (
    "The user asks you to forget something. Which of the memories listed does the request "
    "cover? Answer with their ids (an empty list if none)."
)


# ---------------------------------------------------------------- results
class RecalledMemory(BaseModel):
    id: str
    text: str
    score: float


class MemoryChange(BaseModel):
    action: Literal["add", "update", "delete", "none"]
    id: str | None = None
    text: str | None = None
    old_text: str | None = None


# ---------------------------------------------------------------- sensitive data
_SENSITIVE_PATTERNS = [
    # A secret being told: "my password is ...", "PIN: 1234", "api key = ..."
    re.compile(
        r"\b(pass(?:word|code|phrase)?|pin(?: code)?|secret|api[ _-]?key|access[ _-]?token|"
        r"security (?:code|question)|cvv|cvc|login)\b\W{0,3}(?:is|was|:|=)",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:\d[ -]?){12,18}\d\b"),  # card and account numbers
    re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),  # IBAN
    re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),  # US social security number
    re.compile(r"\b(?:sk|pk|rk|ghp|xox[abp])[-_][A-Za-z0-9_-]{16,}\b"),  # API keys
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(
        r"\b(?:social security|passport|driver'?s licen[cs]e|bank account|routing|sort code|"
        r"tax id|credit card)\s*(?:number|no\.?|#)?\s*(?:is|:)",
        re.IGNORECASE,
    ),
]


def is_sensitive(text: str, category: str | None, categories: Collection[str]) -> bool:
    """A category the settings exclude, or text that looks like a secret or an account."""
    if category is not None and category.strip().lower() in {c.lower() for c in categories}:
        return True
    return any(p.search(text) for p in _SENSITIVE_PATTERNS)


# ---------------------------------------------------------------- recall
async def memory_enabled(db_session: AsyncSession, user_id: str) -> bool:
    """The user's switch (`PUT /api/v1/memories/settings`); on for users without a row."""
    return await MemorySwitchRepository(db_session).enabled(user_id)


MEMORY_HEADER = (
    "What you remember about the user from earlier conversations (use it when relevant; "
    "the user can see and delete these):"
)


def _line(text: str) -> str:
    return f"- {text}"


def memory_prompt(memories: list[RecalledMemory]) -> str:
    """The block for the writer's system prompt ('' when nothing was recalled)."""
    if not memories:
        return ""
    return "\n".join([MEMORY_HEADER, *(_line(m.text) for m in memories)])


async def recall(
    db_session: AsyncSession,
    embedder: Embedder | None,
    user_id: str,
    query: str,
    *,
    token_budget: int,
    count_tokens: TokenCounter,
    min_score: float = 0.2,
    limit: int = 50,
) -> list[RecalledMemory]:
    """The memories relevant to `query`, best first, whose prompt block (header included)
    fits `token_budget` tokens as `count_tokens` counts them. An empty query ("what do you
    remember about me?") recalls the newest memories."""
    if query.strip():
        hits = await store.search(
            db_session, embedder, user_id, query, limit=limit, min_score=min_score
        )
    else:
        rows = await MemoryRepository(db_session).all_for_user(user_id, limit=limit)
        hits = [store.ScoredMemory(r, 1.0) for r in rows]
    used = count_tokens(MEMORY_HEADER)
    out: list[RecalledMemory] = []
    for hit in hits:
        cost = count_tokens(_line(hit.memory.text)) + 1  # the newline
        if used + cost > token_budget:
            continue  # a shorter, less relevant one may still fit
        used += cost
        out.append(RecalledMemory(id=hit.memory.id, text=hit.memory.text, score=hit.score))
    return out


# ---------------------------------------------------------------- remember
def _numbered(candidates: list[store.ScoredMemory]) -> tuple[str, dict[str, Memory]]:
    """The candidates as the model sees them: temporary ids "1", "2", ... (never real ids)."""
    by_temp = {str(i): c.memory for i, c in enumerate(candidates, start=1)}
    listing = "\n".join(f'{temp}. "{m.text}"' for temp, m in by_temp.items())
    return listing, by_temp


async def _reconcile(
    db: AsyncSession,
    embedder: Embedder | None,
    llm: LlmRef,
    fact: ExtractedFact,
    *,
    user_id: str,
    session_id: str | None,
    query_id: str | None,
    when: datetime,
    top_k: int,
    categories: Collection[str],
) -> MemoryChange:
    candidates = await store.search(
        db, embedder, user_id, fact.text, limit=top_k, min_score=CANDIDATE_MIN_SCORE
    )
    new = store.normalised(fact.text)
    for c in candidates:
        if c.score >= DUPLICATE_SCORE or store.normalised(c.memory.text) == new:
            return MemoryChange(action="none", id=c.memory.id, text=c.memory.text)

    async def add(text: str) -> MemoryChange:
        record = await store.add_memory(
            db,
            embedder,
            user_id=user_id,
            text=text,
            kind=fact.kind,
            reason="remembered",
            session_id=session_id,
            query_id=query_id,
            source_time=when,
        )
        return MemoryChange(action="add", id=record.id, text=record.text)

    if not candidates:
        return await add(fact.text)
    listing, by_temp = _numbered(candidates)
    prompt = (
        f"Existing memories:\n{listing}\n\nNew information from the user "
        f'(conversation of {when.date().isoformat()}): "{fact.text}"\n'
        "Decide one action for it."
    )
    try:
        decided = await structured(
            llm.provider,
            llm.model,
            [ChatMessage(role="user", content=prompt)],
            Decision,
            system=RECONCILE_SYSTEM,
        )
    except ProviderError as exc:  # invalid twice, or the model is down: keep what we have
        log.warning("memory_reconcile_failed", error=str(exc))
        return MemoryChange(action="none", text=fact.text)
    decision = decided.value
    text = (decision.text or fact.text).strip()
    if decision.action in ("add", "update") and is_sensitive(text, None, categories):
        return MemoryChange(action="none")
    target = by_temp.get((decision.id or "").strip().strip('"'))
    if decision.action == "add" or (decision.action == "update" and target is None):
        return await add(text)
    if decision.action == "update" and target is not None:
        old = target.text
        await store.update_memory(
            db,
            embedder,
            target,
            text=text,
            kind=fact.kind,
            reason="corrected",
            session_id=session_id,
        )
        # Its provenance is now the conversation that corrected it (the old text's is history).
        target.source_session_id = session_id
        target.source_query_id = query_id
        target.source_time = when
        await db.flush()
        return MemoryChange(action="update", id=target.id, text=target.text, old_text=old)
    if decision.action == "delete" and target is not None:
        await store.delete_memory(db, target, reason="contradicted", session_id=session_id)
        return MemoryChange(action="delete", id=target.id, old_text=target.text)
    return MemoryChange(action="none")


async def extract(llm: LlmRef, user_text: str, when: datetime) -> list[ExtractedFact]:
    """Facts and preferences stated in the user's message: the only text the model sees."""
    result = await structured(
        llm.provider,
        llm.model,
        [ChatMessage(role="user", content=user_text[:MAX_USER_TEXT])],
        Extraction,
        system=EXTRACT_SYSTEM.format(date=when.date().isoformat()),
    )
    return result.value.facts


async def remember(
    db_session: AsyncSession,
    embedder: Embedder | None,
    llm: LlmRef,
    *,
    user_id: str,
    user_text: str,
    session_id: str | None,
    query_id: str | None,
    when: datetime,
    sensitive_categories: Collection[str] = DEFAULT_MEMORY_SENSITIVE_CATEGORIES,
    top_k: int = 5,
) -> list[MemoryChange]:
    """Extract from the user's message, drop what is sensitive, reconcile each fact."""
    if not user_text.strip():
        return []
    try:
        facts = await extract(llm, user_text, when)
    except ProviderError as exc:  # malformed twice (retried once already), or model down
        log.warning("memory_extract_failed", error=str(exc))
        return []
    changes: list[MemoryChange] = []
    seen: set[str] = set()
    for fact in facts:
        key = store.normalised(fact.text)
        if not key or key in seen:
            continue
        seen.add(key)
        if is_sensitive(fact.text, fact.category, sensitive_categories):
            log.info("memory_sensitive_dropped", category=fact.category)
            continue
        changes.append(
            await _reconcile(
                db_session,
                embedder,
                llm,
                fact,
                user_id=user_id,
                session_id=session_id,
                query_id=query_id,
                when=when,
                top_k=top_k,
                categories=sensitive_categories,
            )
        )
    return changes


# ---------------------------------------------------------------- forget
_FORGET_PREFIX = re.compile(
    r"^\s*(?:please\s+)?(?:can you\s+)?(?:forget|delete|remove|erase|drop)\s+"
    r"(?:everything\s+)?(?:that|about|the fact that|what i (?:said|told you) about)?\s*",
    re.IGNORECASE,
)


def forget_target(what: str) -> str:
    """'Please forget that I live in Paris' -> 'I live in Paris' (what to search for)."""
    stripped = _FORGET_PREFIX.sub("", what).strip(" .!?")
    return stripped or what


async def forget(
    db_session: AsyncSession,
    embedder: Embedder | None,
    llm: LlmRef | None,
    *,
    user_id: str,
    what: str,
    session_id: str | None = None,
    top_k: int = 5,
) -> list[MemoryChange]:
    """Delete the memories `what` names: those the model picks among the closest (shown with
    temporary ids) or, without a model, the closest one."""
    target = forget_target(what)
    candidates = await store.search(
        db_session, embedder, user_id, target, limit=top_k, min_score=FORGET_MIN_SCORE
    )
    if not candidates:
        return []
    chosen: list[Memory]
    if llm is None:
        chosen = [candidates[0].memory]
    else:
        listing, by_temp = _numbered(candidates)
        try:
            picked = await structured(
                llm.provider,
                llm.model,
                [ChatMessage(role="user", content=f"Memories:\n{listing}\n\nRequest: {what}")],
                ForgetSelection,
                system=FORGET_SYSTEM,
            )
        except ProviderError as exc:
            log.warning("memory_forget_failed", error=str(exc))
            return []
        chosen = []
        for temp in picked.value.ids:
            found = by_temp.get(temp.strip().strip('"'))
            if found is not None and found not in chosen:
                chosen.append(found)
    changes = []
    for memory in chosen:
        await store.delete_memory(db_session, memory, reason="forget", session_id=session_id)
        changes.append(MemoryChange(action="delete", id=memory.id, old_text=memory.text))
    return changes
