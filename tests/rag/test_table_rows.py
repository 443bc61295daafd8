"""Row-level citations: a table over a page break is read whole, but a hit on it is cited on
the page the row the question names is printed on, with that row under the table's header.
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from llm_platform.core.config import Settings
from llm_platform.db.models import FileChunk
from llm_platform.rag.embeddings import LocalEmbedder
from llm_platform.rag.runtime import RagRuntime
from llm_platform.rag.table_rows import cite_row, query_terms
from llm_platform.services.rag import ground
from tests.conftest import AppClient, start_client
from tests.support.documents import STATEMENT_ROWS, make_statement_pdf
from tests.support.files import upload, wait_done

U1 = {"x-user-id": "u1"}
LEAD = "The following table presents the consolidated results of operations"
HEADER = "|  | Fiscal 2023 | Fiscal 2022 |"
RESTRUCTURING = "| Restructuring charges | 12,318 | 82,091 |"  # printed on page 2


@pytest.fixture
async def client(
    make_settings: Callable[..., Settings],
    embedder: LocalEmbedder,
) -> AsyncIterator[AppClient]:
    async for c in start_client(make_settings()):
        yield c


async def _statement(client: AppClient) -> str:
    r = await upload(client, "beacon.pdf", make_statement_pdf(), content_type="application/pdf")
    fid = r.json()["id"]
    assert (await wait_done(client, fid))["status"] == "ready"
    return str(fid)


async def _table_hits(client: AppClient, query: str) -> list[dict[str, object]]:
    res = await client.post("/api/v1/rag/search", json={"query": query, "top_k": 10}, headers=U1)
    assert res.status_code == 200
    return [h for h in res.json()["results"] if LEAD in h["text"]]


async def test_a_row_on_the_tables_second_page_is_cited_on_that_page(client: AppClient) -> None:
    await _statement(client)
    hits = await _table_hits(client, "What were the restructuring charges in fiscal 2023?")
    # Both parts of the table are hits: the page-1 part (lead-in, header, first rows) and
    # the page-2 part (header repeated, the row asked for); each is cited on page 2.
    assert {"| Net sales | 70,658 | 11,530 |" in str(h["text"]) for h in hits} == {True, False}
    for hit in hits:
        assert hit["page"] == 2
        assert hit["rows"] == f"{HEADER}\n| --- | --- | --- |\n{RESTRUCTURING}"
        context = str(hit["context"])
        assert LEAD in context and HEADER in context and RESTRUCTURING in context
        assert all(
            f"| {label} | {now} | {before} |" in context for label, now, before in STATEMENT_ROWS
        )
        assert hit["context_pages"] == [1, 2]


async def test_a_row_on_the_tables_first_page_keeps_page_one(client: AppClient) -> None:
    await _statement(client)
    hits = await _table_hits(client, "What was the gross profit in fiscal 2023?")
    assert len(hits) == 2
    for hit in hits:
        assert hit["page"] == 1
        assert "| Gross profit | 71,402 | 17,127 |" in str(hit["rows"])
    # A question naming no row of the table: each part is cited on its own page.
    hits = await _table_hits(client, "consolidated results of operations for the fiscal years")
    assert sorted(h["page"] for h in hits) == [1, 2]
    assert all(h["rows"] is None for h in hits)


async def test_grounded_answer_cites_the_rows_page_with_the_row_as_snippet(
    client: AppClient,
) -> None:
    fid = await _statement(client)
    runtime: RagRuntime = client.app.state.platform.rag.runtime
    g = await ground(
        runtime, user_id="u1", query="Restructuring charges in fiscal 2023?", min_score=0.0
    )
    assert g.prompt is not None and g.prompt.count(RESTRUCTURING) == 1  # the table once
    table = next(c for c in g.citations if c.snippet and RESTRUCTURING in c.snippet)
    assert table.file_id == fid and table.file_name == "beacon.pdf" and table.page == 2
    assert table.snippet is not None and table.snippet.startswith(HEADER)
    assert f"[{table.index}] beacon.pdf, page 2\n(pages 1-2)\n" in g.prompt


def _part(id_: int, page: int, text: str) -> FileChunk:
    return FileChunk(id=id_, file_id="f", chunk_index=id_, page=page, text=text, section_index=0)


def test_cite_row_counts_a_borderless_tables_repeated_first_row_on_its_own_page() -> None:
    # A borderless table has no header row: its first data row is repeated in every part.
    lead = "Selected balance sheet data at the end of each fiscal year were as follows:"
    first = "Cash and cash equivalents   4,769   45,779"
    parts = [
        _part(1, 7, f"{lead}\n{first}\nShort-term investments   20,485   10,949"),
        _part(2, 8, f"{lead}\n{first}\nGoodwill   76,414   69,977\nTotal assets   67,008   90,091"),
    ]
    cash = cite_row(parts[1], parts, query_terms("Cash and cash equivalents at the end of 2023?"))
    assert cash is not None and cash.chunk.page == 7 and cash.rows == first
    goodwill = cite_row(parts[0], parts, query_terms("What was goodwill?"))
    assert goodwill is not None and goodwill.chunk.page == 8
    assert goodwill.rows == "Goodwill   76,414   69,977"
    # Words of the repeated lead-in name no row; a one-part table has nothing to choose.
    assert cite_row(parts[0], parts, query_terms("selected balance sheet data")) is None
    assert cite_row(parts[0], parts[:1], query_terms("What was goodwill?")) is None
