from __future__ import annotations

from datetime import UTC, datetime, timedelta

from llm_platform.agents.summary import history_within_budget, refresh_session_summary
from llm_platform.db.engine import Database
from llm_platform.db.models import Query, Session
from llm_platform.db.repositories.memories import SessionSummaryRepository
from llm_platform.providers.base import ChatMessage
from tests.support.memory import MemoryModel

SESSION = "alice:long"


def words(text: str) -> int:
    return len(text.split())


async def _conversation(database: Database, turns: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with database.write_sessions() as db:
        db.add(Session(id=SESSION, user_id="alice", environment={}))
        await db.flush()
        for i in range(turns):
            db.add(
                Query(
                    id=f"q{i:03d}",
                    user_id="alice",
                    session_id=SESSION,
                    provider="scripted",
                    model="echo",
                    request={"query": f"question {i} " + "word " * 18},
                    response_text=f"answer {i} " + "word " * 18,
                    created_at=start + timedelta(minutes=i),
                )
            )
        await db.commit()


async def test_rolling_summary_job_and_the_writers_window(database: Database) -> None:
    await _conversation(database, 10)  # 20 messages of 20 words: 400 "tokens"
    model = MemoryModel()
    model.queue("summary", "The user asked ten numbered questions.", "Twelve questions now.")
    llm = model.llm()
    # Under the budget: nothing to do.
    assert not await refresh_session_summary(
        database, llm, SESSION, budget_tokens=1000, count_tokens=words
    )
    assert await refresh_session_summary(
        database, llm, SESSION, budget_tokens=200, count_tokens=words
    )
    # Idempotent: the same turns give the same coverage, no second model call.
    assert not await refresh_session_summary(
        database, llm, SESSION, budget_tokens=200, count_tokens=words
    )
    assert len(model.of("summary")) == 1
    (request,) = model.of("summary")
    assert "USER: question 0" in request.messages[0].content
    assert "question 7" in request.messages[0].content
    assert "question 8" not in request.messages[0].content  # the newest turns stay verbatim
    async with database.read_sessions() as db:
        record = await SessionSummaryRepository(db).get(SESSION)
        assert record is not None and record.user_id == "alice"
        assert record.message_count == 16 and record.covered_until_query_id == "q007"

        history = [
            ChatMessage(role="user" if i % 2 == 0 else "assistant", content=f"m{i} " + "w " * 19)
            for i in range(20)
        ]
        summary, recent = await history_within_budget(
            db, session_id=SESSION, messages=history, budget_tokens=150, count_tokens=words
        )
        assert summary == "The user asked ten numbered questions."
        assert recent[-1] is history[-1] and recent[0].content.startswith("m16 ")
        assert words(summary) + sum(words(m.content) for m in recent) <= 150
        # Fits: the whole history, no summary.
        assert await history_within_budget(
            db, session_id=SESSION, messages=history[:4], budget_tokens=150, count_tokens=words
        ) == (None, history[:4])
        # No summary yet for another session: the newest messages only.
        summary, recent = await history_within_budget(
            db, session_id="other", messages=history, budget_tokens=100, count_tokens=words
        )
        assert summary is None and len(recent) == 5

    # Two more turns: the summary rolls forward from the old one plus the turns since.
    async with database.write_sessions() as db:
        for i in (10, 11):
            db.add(
                Query(
                    id=f"q{i:03d}",
                    user_id="alice",
                    session_id=SESSION,
                    provider="scripted",
                    model="echo",
                    request={"query": f"question {i} " + "word " * 18},
                    response_text=f"answer {i} " + "word " * 18,
                    created_at=datetime(2026, 1, 2, tzinfo=UTC) + timedelta(minutes=i),
                )
            )
        await db.commit()
    assert await refresh_session_summary(
        database, llm, SESSION, budget_tokens=200, count_tokens=words
    )
    second = model.of("summary")[1].messages[0].content
    assert second.startswith("Earlier summary:\nThe user asked ten numbered questions.")
    assert "question 8" in second and "question 9" in second and "question 7" not in second
