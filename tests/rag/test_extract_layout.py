"""PDF layout (pdfplumber): tables whole over page breaks with their header and lead-in,
two columns in reading order, running headers, footers and page numbers dropped."""

from __future__ import annotations

import re
from pathlib import Path

from llm_platform.rag.chunking import Chunker, approx_tokens
from llm_platform.rag.extract import Limits, extract
from llm_platform.rag.extract.base import BlockKind
from llm_platform.rag.filetypes import FileKind
from tests.support.documents import FILING_ROWS, make_filing_pdf

LIMITS = Limits(50, 1_000_000, 40_000_000, 600, ocr=False, audio=False)


def _doc(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "filing.pdf"
    path.write_bytes(make_filing_pdf())
    return extract(path, FileKind.PDF, "application/pdf", LIMITS)


def test_table_over_a_page_break_is_one_unit_with_header_and_lead_in(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    tables = [b for b in doc.blocks if b.kind is BlockKind.TABLE]
    store = next(t for t in tables if "Beginning of period" in t.text)
    assert store.page == 1 and store.row_pages is not None and set(store.row_pages) == {1, 2}
    lines = store.text.split("\n")
    assert lines[0].startswith("Domestic segment stores open at the beginning")
    assert store.caption is not None and store.caption.endswith("were as follows:")
    header = next(n for n, ln in enumerate(lines) if "Fiscal 2024" in ln)
    first = next(n for n, ln in enumerate(lines) if "Beginning of period" in ln)
    last = next(n for n, ln in enumerate(lines) if "End of period" in ln)
    assert header < first < last == len(lines) - 1
    assert lines[last] == "| End of period | 1,042 | 1,010 |"
    for label, now, before in FILING_ROWS:  # every row of both pages, in order
        assert f"| {label} | {now} | {before} |" in store.text
    assert store.text.count("Fiscal 2024") == 1  # the header is not repeated as a row


def test_borderless_table_keeps_its_lead_in(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    region = next(b for b in doc.blocks if b.kind is BlockKind.TABLE and "Europe" in b.text)
    assert region.page == 2
    assert region.text.startswith("Revenue by region for the fiscal year was as follows")
    assert "Asia Pacific" in region.text and "2,310.8" in region.text


def test_two_columns_read_column_by_column(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    text = "\n".join(b.text for b in doc.blocks if b.page == 3)
    marks = re.findall(r"\b[LR]\d\d\b", text)
    assert marks == [f"L{n:02d}" for n in range(1, 21)] + [f"R{n:02d}" for n in range(1, 21)]


def test_running_headers_footers_and_page_numbers_dropped(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    text = "\n".join(b.text for b in doc.blocks)
    assert "Form 10-K" not in text and "Annual Report 2023" not in text
    assert not re.search(r"Page \d", text)
    assert doc.title == "Acme Robotics Annual Report 2023"


def test_table_chunks_repeat_lead_in_and_header_and_cite_their_page(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    chunks, sections = Chunker(approx_tokens, max_tokens=120, overlap=20).chunk_with_sections(
        doc, "filing.pdf"
    )
    table = [c for c in chunks if "| Beginning of period" in c.text or "Region 1" in c.text]
    pieces = [c for c in chunks if c.text.startswith("Domestic segment stores open")]
    assert len(pieces) >= 3  # split by rows, each piece readable on its own
    assert all("Fiscal 2024" in c.text for c in pieces)
    assert table and table[0].page == 1
    end = next(c for c in pieces if "End of period" in c.text)
    assert end.page == 2
    section = sections[end.section]
    assert section.kind == "table" and section.page == 1 and section.page_end == 2
    assert "Beginning of period" in section.text and "End of period" in section.text
    assert len({c.section for c in pieces}) == 1
