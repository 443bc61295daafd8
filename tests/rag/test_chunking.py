from __future__ import annotations

import itertools

from llm_platform.rag.chunking import Chunker, approx_tokens, document_context
from llm_platform.rag.extract.base import Block, BlockKind, ExtractedDocument, blocks_from_lines
from llm_platform.rag.query_text import focus_documents, keyword_terms, strip_boilerplate


def words(n: int, start: int = 0) -> str:
    return " ".join(f"w{i}" for i in range(start, start + n))


def count(text: str) -> int:
    return len(text.split())


def test_long_text_is_split_within_budget_with_overlap_and_offsets() -> None:
    text = ". ".join(words(10, i * 10) for i in range(40))  # 400 words, 40 sentences
    doc = ExtractedDocument(blocks=[Block(text, page=3, heading="Intro")], title="T")
    chunks = Chunker(count, max_tokens=60, overlap=15).chunk(doc, "f.txt")
    assert len(chunks) > 6
    for c in chunks:
        assert c.token_count <= 60
        assert c.page == 3 and c.heading == "Intro"
        assert text[c.char_start : c.char_end] == c.text
    # consecutive chunks share words (overlap)
    for a, b in itertools.pairwise(chunks):
        assert set(a.text.split()) & set(b.text.split())
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_chunks_never_span_pages() -> None:
    doc = ExtractedDocument(
        blocks=[Block("alpha beta", page=1), Block("gamma delta", page=2)], title=None
    )
    chunks = Chunker(count, max_tokens=100, overlap=10).chunk(doc, "f.pdf")
    assert [(c.page, c.text) for c in chunks] == [(1, "alpha beta"), (2, "gamma delta")]


def test_table_kept_whole_or_split_with_header_and_caption() -> None:
    rows = [f"Row{i} {i}.0 {i * 2}.5" for i in range(30)]
    table = Block(
        "\n".join(["Table 3: Segment revenue", "Segment 2023 2022", *rows]),
        page=5,
        heading="Segments",
        kind=BlockKind.TABLE,
        caption="Table 3: Segment revenue",
        header="Segment 2023 2022",
    )
    doc = ExtractedDocument(blocks=[table])
    whole = Chunker(count, max_tokens=500, overlap=0).chunk(doc, "r.pdf")
    assert len(whole) == 1 and whole[0].text == table.text
    split = Chunker(count, max_tokens=40, overlap=0).chunk(doc, "r.pdf")
    assert len(split) > 2
    for c in split:
        lines = c.text.split("\n")
        assert lines[:2] == ["Table 3: Segment revenue", "Segment 2023 2022"]
    body = [ln for c in split for ln in c.text.split("\n")[2:]]
    assert body == rows  # every row once, in order


def test_context_names_title_and_heading() -> None:
    assert document_context("Acme Annual Report 2023", "acme.pdf", "Cash flow") == (
        "Acme Annual Report 2023 | acme.pdf | Cash flow"
    )
    doc = ExtractedDocument(blocks=[Block("text", heading="Risks")], title="Acme Q3 2024")
    chunk = Chunker(approx_tokens, 100, 10).chunk(doc, "a.pdf")[0]
    assert chunk.embed_text.startswith("Acme Q3 2024 | a.pdf | Risks\n")


def test_lines_become_headings_paragraphs_and_tables() -> None:
    lines = [
        "Financial highlights",
        "Metric            2023      2022",
        "Revenue           1,204     1,050",
        "Operating margin  14.2%     12.9%",
        "",
        "Outlook for next year",
        "We expect growth to continue in all regions of the group.",
    ]
    blocks = blocks_from_lines(lines, 2, None)
    table = next(b for b in blocks if b.kind is BlockKind.TABLE)
    assert table.header is not None and "Metric" in table.header
    assert "Revenue" in table.text and table.heading == "Financial highlights"
    assert blocks[-1].heading == "Outlook for next year"


def test_query_boilerplate_and_focus() -> None:
    q = "According to the report, can you tell me what Acme's revenue was in Q3 2023?"
    stripped = strip_boilerplate("Can you tell me what Acme's revenue was in Q3 2023?")
    assert stripped.lower().startswith("what acme")
    terms = keyword_terms(strip_boilerplate(q))
    assert "revenue" in terms and "q3" in terms and "2023" in terms
    assert "according" not in terms and "report" not in terms
    docs = [
        ("a23", "Acme Corp Quarterly Report Q3 2023"),
        ("a22", "Acme Corp Quarterly Report Q3 2022"),
        ("b23", "Bolt Industries Quarterly Report Q3 2023"),
    ]
    assert focus_documents(q, docs) == ["a23"]
    assert focus_documents("what is revenue?", docs) == []
