"""Rolling summaries of long conversations: past a token budget the writer reads the
session's summary of its older turns and the newest turns that fit, not the whole history.

`refresh_session_summary` is the background job (idempotent, by session id): it summarises
the turns that no longer fit into the summary, incrementally (the old summary plus the turns
since). `history_within_budget` is what the writer calls on every turn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.agents.llm import LlmRef
from llm_platform.core.logging import get_logger
from llm_platform.db.engine import Database
from llm_platform.db.models import Query, Session
from llm_platform.db.repositories.memories import SessionSummaryRepository
from llm_platform.providers.base import ChatMessage, ChatRequest

log = get_logger("llm_platform.agents.summary")

TokenCounter = Callable[[str], int]
MAX_TRANSCRIPT_CHARS = 60_000

SUMMARY_SYSTEM = (
    "Summarise the conversation below for the assistant's own later use, in at most "
    "{budget} tokens: what the user asked and decided, facts they gave about themselves, "
    "answers given, open questions. Keep who said what (the user vs the assistant); do not "
    "invent dates or details. If an earlier summary is given, merge it with the new turns."
)


def _tokens(messages: Sequence[ChatMessage], count_tokens: TokenCounter) -> int:
    return sum(count_tokens(m.content) for m in messages)


def _transcript(messages: Sequence[ChatMessage]) -> str:
    lines = [f"{m.role.upper()}: {m.content}" for m in messages]
    return "\n\n".join(lines)[-MAX_TRANSCRIPT_CHARS:]


async def summarize_history(
    llm: LlmRef, messages: Sequence[ChatMessage], budget: int, *, previous: str | None = None
) -> str:
    """A summary of `messages` (merged with `previous`) of about `budget` tokens."""
    body = _transcript(messages)
    if previous:
        body = f"Earlier summary:\n{previous}\n\nNew turns:\n{body}"
    request = ChatRequest(
        model=llm.model,
        messages=[ChatMessage(role="user", content=body)],
        system=SUMMARY_SYSTEM.format(budget=budget),
        temperature=0.0,
        max_tokens=max(32, budget),
        stream=False,
    )
    completion = await llm.provider.complete(request)
    if completion.error is not None and not completion.text:
        raise RuntimeError(completion.error.message)
    return completion.text.strip()


def _recent(
    messages: Sequence[ChatMessage], budget: int, count_tokens: TokenCounter
) -> list[ChatMessage]:
    """The newest messages whose tokens fit `budget` (the last one always)."""
    kept: list[ChatMessage] = []
    used = 0
    for message in reversed(messages):
        cost = count_tokens(message.content)
        if kept and used + cost > budget:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    return kept


async def history_within_budget(
    db_session: AsyncSession,
    *,
    session_id: str | None,
    messages: Sequence[ChatMessage],
    budget_tokens: int,
    count_tokens: TokenCounter,
) -> tuple[str | None, list[ChatMessage]]:
    """(summary or None, recent messages) for the writer: the whole history while it fits
    `budget_tokens`, else the session's summary and the newest messages after what it
    covers, within the budget (without a summary yet: the newest messages only)."""
    if _tokens(messages, count_tokens) <= budget_tokens:
        return None, list(messages)
    record = await SessionSummaryRepository(db_session).get(session_id) if session_id else None
    summary: str | None = None
    start = 0
    if record is not None and 0 < record.message_count <= len(messages):
        summary = record.summary
        start = record.message_count
    remaining = budget_tokens - (count_tokens(summary) if summary else 0)
    return summary, _recent(messages[start:], max(remaining, 0), count_tokens)


def _messages(turn: Query) -> list[ChatMessage]:
    out = [ChatMessage(role="user", content=str(turn.request.get("query") or ""))]
    if turn.response_text:
        out.append(ChatMessage(role="assistant", content=turn.response_text))
    return out


async def refresh_session_summary(
    database: Database,
    llm: LlmRef,
    session_id: str,
    *,
    budget_tokens: int,
    count_tokens: TokenCounter,
    summary_tokens: int = 400,
) -> bool:
    """Bring the session's summary up to date; True when it changed. Safe to run twice or
    concurrently (the same turns give the same coverage; the later write wins)."""
    async with database.read_sessions() as read:
        session = await read.get(Session, session_id)
        if session is None:
            return False
        turns = await SessionSummaryRepository(read).turns(session_id)
        existing = await SessionSummaryRepository(read).get(session_id)
        previous = (existing.summary, existing.message_count) if existing else (None, 0)
    per_turn = [_messages(t) for t in turns]
    messages = [m for ms in per_turn for m in ms]
    if _tokens(messages, count_tokens) <= budget_tokens:
        return False
    # Keep the newest turns that fit half the budget verbatim; summarise the rest.
    keep_budget = budget_tokens // 2
    kept_turns, used = 0, 0
    for ms in reversed(per_turn):
        cost = _tokens(ms, count_tokens)
        if used + cost > keep_budget:
            break
        used += cost
        kept_turns += 1
    covered = per_turn[: len(per_turn) - kept_turns]
    covered_count = sum(len(ms) for ms in covered)
    if not covered or covered_count <= previous[1]:
        return False
    old_summary, old_count = previous
    fresh = [m for ms in covered for m in ms][old_count:]
    text = await summarize_history(llm, fresh, summary_tokens, previous=old_summary)
    last = turns[len(covered) - 1]
    async with database.write_sessions() as write:
        await SessionSummaryRepository(write).save(
            session_id=session_id,
            user_id=session.user_id,
            summary=text,
            message_count=covered_count,
            covered_until_query_id=last.id,
            covered_until=last.created_at,
        )
        await write.commit()
    log.info("session_summary_refreshed", session_id=session_id, messages=covered_count)
    return True
