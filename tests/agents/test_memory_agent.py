from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.agents import memory_agent as agent
from llm_platform.agents import memory_store as store
from llm_platform.db.engine import Database
from llm_platform.db.models import Event, Memory, Session
from llm_platform.rag.embeddings import LocalEmbedder
from tests.support.memory import MemoryModel, facts

WHEN = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
USER = "alice"
SESSION = "alice:s1"


@pytest.fixture
async def db(database: Database) -> AsyncIterator[AsyncSession]:
    async with database.write_sessions() as session:
        session.add(Session(id=SESSION, user_id=USER, environment={}))
        await session.flush()
        yield session
        await session.rollback()


async def _remember(
    db: AsyncSession, embedder: LocalEmbedder | None, model: MemoryModel, text: str, **kw: object
) -> list[agent.MemoryChange]:
    return await agent.remember(
        db,
        embedder,
        model.llm(),
        user_id=USER,
        user_text=text,
        session_id=SESSION,
        query_id="q1",
        when=WHEN,
        **kw,  # type: ignore[arg-type]
    )


async def _memories(db: AsyncSession) -> list[Memory]:
    rows = await db.scalars(select(Memory).where(Memory.user_id == USER).order_by(Memory.text))
    return list(rows.all())


async def _event_types(db: AsyncSession) -> list[str]:
    rows = await db.scalars(
        select(Event.type).where(Event.session_id == SESSION).order_by(Event.id)
    )
    return list(rows.all())


async def test_extracted_facts_are_added_with_provenance(
    db: AsyncSession, embedder: LocalEmbedder
) -> None:
    model = MemoryModel()
    model.queue(
        "extract",
        facts(("Lives in Lyon", "fact", "location"), ("Loves jazz music", "preference", "hobby")),
    )
    model.queue("reconcile", {"action": "add"})  # if the two are shown to each other
    changes = await _remember(db, embedder, model, "I live in Lyon and I love jazz.")
    assert [c.action for c in changes] == ["add", "add"]
    rows = await _memories(db)
    assert [(m.text, m.kind) for m in rows] == [
        ("Lives in Lyon", "fact"),
        ("Loves jazz music", "preference"),
    ]
    for m in rows:
        assert m.source_session_id == SESSION and m.source_query_id == "q1"
        assert m.source_time == WHEN  # the conversation's time, not one the model made up
        assert m.embedding is not None and m.embedding_model == embedder.model_name
    assert await _event_types(db) == ["memory_added", "memory_added"]
    # The same fact again is a duplicate: no model call to reconcile it, nothing written.
    model.queue("extract", facts(("lives in Lyon.", "fact", "location")))
    before = len(model.of("reconcile"))
    changes = await _remember(db, embedder, model, "As I said, I live in Lyon")
    assert [c.action for c in changes] == ["none"] and len(model.of("reconcile")) == before
    assert len(await _memories(db)) == 2


async def test_only_the_users_text_reaches_the_extractor(
    db: AsyncSession, embedder: LocalEmbedder
) -> None:
    model = MemoryModel()
    model.queue("extract", facts())
    await _remember(db, embedder, model, "Thanks! What is the capital of Peru?")
    (request,) = model.of("extract")
    assert [(m.role, m.content) for m in request.messages] == [
        ("user", "Thanks! What is the capital of Peru?")
    ]
    assert "2026-03-14" in (request.system or "")  # relative dates resolve against it
    assert request.response_schema is not None
    assert await _memories(db) == []


async def test_a_correction_updates_the_same_memory_with_history(
    db: AsyncSession, embedder: LocalEmbedder
) -> None:
    model = MemoryModel()
    model.queue("extract", facts(("Lives in Lyon", "fact", "location")))
    await _remember(db, embedder, model, "I live in Lyon")
    (original,) = await _memories(db)
    model.queue("extract", facts(("Lives in Paris", "fact", "location")))
    model.queue("reconcile", {"action": "update", "id": "1", "text": "Lives in Paris"})
    changes = await _remember(db, embedder, model, "Actually I moved to Paris last month")
    assert [(c.action, c.id, c.text, c.old_text) for c in changes] == [
        ("update", original.id, "Lives in Paris", "Lives in Lyon")
    ]
    (request,) = model.of("reconcile")
    prompt = request.messages[-1].content
    assert '1. "Lives in Lyon"' in prompt and original.id not in prompt  # temporary ids only
    (updated,) = await _memories(db)
    assert updated.id == original.id and updated.text == "Lives in Paris"
    assert [h["text"] for h in updated.history] == ["Lives in Lyon"]
    assert updated.source_time == WHEN and updated.source_query_id == "q1"
    assert await _event_types(db) == ["memory_added", "memory_updated"]
    # A contradiction without a replacement deletes it.
    model.queue("extract", facts(("Does not live in Paris any more", "fact", "location")))
    model.queue("reconcile", {"action": "delete", "id": "1"})
    changes = await _remember(db, embedder, model, "I left Paris, no fixed home now")
    assert [c.action for c in changes] == ["delete"] and await _memories(db) == []
    # An id the model was never shown is not a memory: it becomes an add.
    model.queue("extract", facts(("Lives in Berlin", "fact", "location")))
    await _remember(db, embedder, model, "Now in Berlin")
    model.queue("extract", facts(("Lives in Berlin since May", "fact", "location")))
    model.queue("reconcile", {"action": "update", "id": "7", "text": "Lives in Berlin since May"})
    await _remember(db, embedder, model, "In Berlin since May")
    assert sorted(m.text for m in await _memories(db)) == [
        "Lives in Berlin",
        "Lives in Berlin since May",
    ]


async def test_forget_deletes_what_the_user_names(
    db: AsyncSession, embedder: LocalEmbedder
) -> None:
    for text in ("Lives in Paris", "Has a dog named Rex", "Prefers aisle seats"):
        await store.add_memory(
            db, embedder, user_id=USER, text=text, kind="fact", reason="test", session_id=SESSION
        )
    model = MemoryModel()
    model.queue("forget", {"ids": ["1"]})
    changes = await agent.forget(
        db,
        embedder,
        model.llm(),
        user_id=USER,
        what="Please forget that I have a dog",
        session_id=SESSION,
    )
    assert [(c.action, c.old_text) for c in changes] == [("delete", "Has a dog named Rex")]
    assert "Has a dog named Rex" not in model.of("forget")[0].messages[-1].content.split("1. ")[0]
    # Without a model: the closest one.
    changes = await agent.forget(db, embedder, None, user_id=USER, what="forget where I live")
    assert [c.old_text for c in changes] == ["Lives in Paris"]
    assert [m.text for m in await _memories(db)] == ["Prefers aisle seats"]
    assert (await _event_types(db)).count("memory_deleted") == 2


async def test_sensitive_facts_are_never_stored(db: AsyncSession, embedder: LocalEmbedder) -> None:
    model = MemoryModel()
    model.queue(
        "extract",
        facts(
            ("Has type 2 diabetes", "fact", "health"),
            ("Email password is hunter2", "fact", "general"),
            ("Card number 4111 1111 1111 1111", "fact", "general"),
            ("IBAN DE89 3704 0044 0532 0130 00", "fact", "general"),
            ("Loves sushi", "preference", "food"),
            ("Plays chess", "preference", "hobby"),
        ),
    )
    changes = await _remember(db, embedder, model, "...", sensitive_categories=["health", "food"])
    assert [c.text for c in changes] == ["Plays chess"]
    assert [m.text for m in await _memories(db)] == ["Plays chess"]
    assert agent.is_sensitive("My PIN: 4321", None, [])
    assert agent.is_sensitive("SSN 123-45-6789", None, [])
    assert not agent.is_sensitive("Was born in 1987 and has 2 kids", "family", ["health"])


async def test_malformed_json_is_retried_once_then_handled(
    db: AsyncSession, embedder: LocalEmbedder
) -> None:
    model = MemoryModel()
    model.queue(
        "extract",
        "Sure! The facts are: Lives in Oslo",
        facts(("Lives in Oslo", "fact", "location")),
    )
    changes = await _remember(db, embedder, model, "I live in Oslo")
    assert [c.action for c in changes] == ["add"] and len(model.of("extract")) == 2
    assert "not valid against the schema" in model.of("extract")[1].messages[-1].content
    model.queue("extract", "{broken", '{"facts": [{"text": 5}]}')
    assert await _remember(db, embedder, model, "I also like skiing") == []
    assert len(model.of("extract")) == 4
    # A reconciler answering garbage twice keeps what is stored.
    model.queue("extract", facts(("Lives in Bergen", "fact", "location")))
    model.queue("reconcile", "nope", "still nope")
    changes = await _remember(db, embedder, model, "I moved to Bergen")
    assert [c.action for c in changes] == ["none"]
    assert [m.text for m in await _memories(db)] == ["Lives in Oslo"]


async def test_recall_fits_the_token_budget(db: AsyncSession, embedder: LocalEmbedder) -> None:
    texts = [
        "Has a golden retriever called Rex",
        "Walks the dog every morning before work",
        "Lives in Lyon",
        "Prefers window seats on planes",
        "Works as a software engineer at a bank",
        "Is learning Japanese",
    ]
    for text in texts:
        await store.add_memory(db, embedder, user_id=USER, text=text, kind="fact", reason="t")
    count = embedder.count_tokens
    wide = await agent.recall(
        db,
        embedder,
        USER,
        "tell me about my dog",
        token_budget=1000,
        count_tokens=count,
        min_score=-1.0,
    )
    assert len(wide) == len(texts) and {m.text for m in wide[:2]} == set(texts[:2])
    assert [m.score for m in wide] == sorted((m.score for m in wide), reverse=True)
    block = agent.memory_prompt(wide)
    assert block.startswith(agent.MEMORY_HEADER) and "- Lives in Lyon" in block
    header = count(agent.MEMORY_HEADER)
    for budget in (header + 12, header + 20, header + 30):
        narrow = await agent.recall(
            db,
            embedder,
            USER,
            "tell me about my dog",
            token_budget=budget,
            count_tokens=count,
            min_score=-1.0,
        )
        assert narrow and count(agent.memory_prompt(narrow)) <= budget
        assert narrow[0].text in texts[:2]
        assert len(narrow) < len(texts)
    relevant = await agent.recall(
        db, embedder, USER, "tell me about my dog", token_budget=1000, count_tokens=count
    )
    assert "Is learning Japanese" not in [m.text for m in relevant]
    everything = await agent.recall(db, embedder, USER, "", token_budget=1000, count_tokens=count)
    assert len(everything) == len(texts)
    assert agent.memory_prompt([]) == ""


async def test_without_an_embedder_keywords_do(db: AsyncSession) -> None:
    model = MemoryModel()
    model.queue("extract", facts(("Has a cat named Miso", "fact", "family")))
    assert [c.action for c in await _remember(db, None, model, "My cat is Miso")] == ["add"]
    model.queue("extract", facts(("Has a cat named Miso", "fact", "family")))
    assert [c.action for c in await _remember(db, None, model, "Miso is my cat")] == ["none"]
    hits = await agent.recall(
        db, None, USER, "what is my cat called?", token_budget=200, count_tokens=len
    )
    assert [m.text for m in hits] == ["Has a cat named Miso"]
