"""Retrieve small, read big: a hit's `context` (what the model reads) is its whole table or
section; the keyword leg keeps periods, form names and figures; a question naming a year
prefers that year's document. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from llm_platform.core.config import Settings
from llm_platform.db.engine import Database
from llm_platform.db.models import File, FileChunk
from llm_platform.rag.embeddings import LocalEmbedder
from llm_platform.rag.query_text import keyword_terms
from llm_platform.rag.runtime import RagRuntime
from llm_platform.rag.store import IndexEntry, build_store
from llm_platform.services.rag import ground
from tests.conftest import AppClient, start_client
from tests.support.documents import FILING_ROWS, make_filing_pdf
from tests.support.files import upload, wait_done

U1 = {"x-user-id": "u1"}


@pytest.fixture
async def client(
    make_settings: Callable[..., Settings],
    embedder: LocalEmbedder,
) -> AsyncIterator[AppClient]:
    async for c in start_client(make_settings()):
        yield c


async def test_hit_on_a_tables_lead_in_hands_over_the_whole_table(client: AppClient) -> None:
    r = await upload(client, "filing.pdf", make_filing_pdf(), content_type="application/pdf")
    fid = r.json()["id"]
    assert (await wait_done(client, fid))["status"] == "ready"
    query = "Domestic segment stores open at the beginning and end of the second quarters"
    res = await client.post("/api/v1/rag/search", json={"query": query, "top_k": 3}, headers=U1)
    hit = res.json()["results"][0]
    assert hit["text"].startswith("Domestic segment stores open")
    assert hit["page"] in (1, 2)
    context = hit["context"]
    assert context.count("Domestic segment stores open") == 1
    assert "| Beginning of period | 1,010 | 990 |" in context  # first row, page 1
    assert "| End of period | 1,042 | 1,010 |" in context  # last row, page 2
    assert all(f"| {label} | {now} |" in context for label, now, _ in FILING_ROWS)
    assert hit["context_pages"] == [1, 2]
    # The other piece of the same table adds nothing new: it points at the first hit.
    rest = res.json()["results"][1:]
    assert all(h["context_shared_with"] == 0 for h in rest if "Domestic segment" in h["text"])

    runtime: RagRuntime = client.app.state.platform.rag.runtime
    g = await ground(runtime, user_id="u1", query=query)
    assert g.prompt is not None and "| End of period | 1,042 | 1,010 |" in g.prompt
    assert g.prompt.count("| End of period | 1,042 | 1,010 |") == 1  # one source, not two
    first = g.citations[0]
    assert first.file_name == "filing.pdf" and first.page == hit["page"]
    assert "filing.pdf, page" in g.prompt and "(pages 1-2)" in g.prompt


async def test_named_year_prefers_that_years_document(client: AppClient) -> None:
    for year, value in ((2022, "1,111"), (2023, "2,222")):
        text = (
            f"Harbor Retail annual report for fiscal year {year}.\n\n"
            f"Harbor Retail net revenue for the year was {value} million dollars, "
            "driven by store openings and online sales."
        )
        r = await upload(client, f"harbor-{year}.txt", text.encode())
        await wait_done(client, r.json()["id"])
    for question, name in (
        ("What was Harbor Retail's net revenue in FY2023?", "harbor-2023.txt"),
        ("Harbor Retail net revenue, FY 2022", "harbor-2022.txt"),
        ("net revenue of Harbor Retail in fiscal 2023", "harbor-2023.txt"),
    ):
        res = await client.post(
            "/api/v1/rag/search", json={"query": question, "top_k": 2}, headers=U1
        )
        assert res.json()["results"][0]["file_name"] == name, question


def test_keyword_terms_keep_periods_forms_and_figures() -> None:
    terms = keyword_terms("What did the FY2023 10-K say about Q2 revenue of $1,234.5 million?")
    assert {"fy2023", "fy 2023", "2023", "10-k", "q2", "1,234.5", "revenue"} <= set(terms)
    assert "the" not in terms and "k" not in terms
    assert {"fy2024", "2024"} <= set(keyword_terms("fiscal year 2024 results"))
    assert {"fy2023", "fy23", "2023"} <= set(keyword_terms("FY23 margin"))


async def test_keyword_search_matches_forms_and_figures_as_phrases(
    database: Database,
) -> None:
    store = build_store(database.dialect)
    await store.ensure(database.engine, 8)
    texts = [
        "Annual report on Form 10-K for fiscal 2023",
        "We shipped 10 kilograms of parts in 2023",
        "Net sales were 1,234.5 million",
        "Net sales were 1,234 million and 5 units",
    ]
    async with database.write_sessions() as s, s.begin():
        s.add(
            File(
                id="f1", user_id="u", name="f.txt", media_type="text/plain", kind="text",
                size_bytes=1, sha256="x", storage_key="k", status="ready", progress=1.0,
                chunk_count=len(texts), attempts=0,
            )
        )  # fmt: skip
        rows = [
            FileChunk(
                file_id="f1", user_id="u", chunk_index=i, page=1, char_start=0,
                char_end=len(t), text=t, token_count=5, embedding_model="m", embedding_dim=8,
            )
            for i, t in enumerate(texts)
        ]  # fmt: skip
        s.add_all(rows)
        await s.flush()
        vec = np.ones(8, dtype=np.float32) / np.sqrt(8)
        await store.add(s, "m", 8, [IndexEntry(r.id, "u", "f1", r.text, vec) for r in rows])
    ids = [r.id for r in rows]
    async with database.read_sessions() as s:
        form = await store.keyword_search(s, terms=["10-k"], user_id="u", file_ids=None, k=5)
        assert [h.chunk_id for h in form] == [ids[0]]
        figure = await store.keyword_search(s, terms=["1,234.5"], user_id="u", file_ids=None, k=5)
        assert [h.chunk_id for h in figure] == [ids[2]]
        period = await store.keyword_search(
            s, terms=["fy 2023", "2023"], user_id="u", file_ids=None, k=5
        )
        assert {h.chunk_id for h in period} == {ids[0], ids[1]}


async def test_files_ingested_before_sections_get_neighbouring_chunks(client: AppClient) -> None:
    from sqlalchemy import delete, update

    from llm_platform.db.models import FileSection

    paras = [
        f"Paragraph {n} of the plant history: the line at site {n} was rebuilt in "
        f"{1990 + n} and now makes {n * 11} robot arms a week for the export market."
        for n in range(1, 40)
    ]
    r = await upload(client, "history.txt", "\n\n".join(paras).encode())
    fid = r.json()["id"]
    await wait_done(client, fid)
    runtime: RagRuntime = client.app.state.platform.rag.runtime
    async with runtime.db.write_sessions() as s, s.begin():  # as left by migration 0004
        await s.execute(update(FileChunk).values(section_index=None))
        await s.execute(delete(FileSection))
    res = await client.post(
        "/api/v1/rag/search",
        json={"query": "site 20 rebuilt in 2010 robot arms", "top_k": 1},
        headers=U1,
    )
    hit = res.json()["results"][0]
    found = set(re.findall(r"Paragraph (\d+) ", hit["text"]))
    handed = set(re.findall(r"Paragraph (\d+) ", hit["context"]))
    assert "20" in found and found < handed  # the chunk and its neighbours, in order
    numbers = [int(n) for n in re.findall(r"Paragraph (\d+) ", hit["context"])]
    assert numbers == sorted(set(numbers))  # no paragraph twice (overlaps dropped)
    assert len(hit["context"]) <= runtime.settings.RAG_CONTEXT_TOKENS * 4 + len(hit["text"])
