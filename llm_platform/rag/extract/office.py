"""DOCX paragraphs and tables in document order, headings from paragraph styles.

Before python-docx parses anything, every member of the archive is inflated and counted
against the ZIP budget (a styles part can be the bomb as well as the document body)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from llm_platform.rag.extract.base import (
    Block,
    BlockKind,
    CharBudget,
    ExtractedDocument,
    ExtractionError,
    Limits,
)
from llm_platform.rag.filetypes import ArchiveTooLarge, ZipBudget, check_zip

# Without a configured budget (direct calls): the defaults of the settings.
_DEFAULT_BUDGET = ZipBudget(max_bytes=256 * 1024 * 1024, max_ratio=100.0)


def extract_docx(
    path: Path, limits: Limits, zip_budget: ZipBudget | None = None
) -> ExtractedDocument:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        with zipfile.ZipFile(path) as archive:
            archive.getinfo("word/document.xml")
            check_zip(archive, zip_budget or _DEFAULT_BUDGET, real=True)
        document = docx.Document(str(path))
    except ArchiveTooLarge as exc:
        raise ExtractionError(str(exc)) from None
    except (ExtractionError, MemoryError):
        raise
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ExtractionError(f"Not a valid DOCX document ({exc})") from None
    except Exception as exc:  # python-docx raises assorted errors on broken packages
        raise ExtractionError(f"Not a valid DOCX document ({type(exc).__name__})") from None

    budget = CharBudget(limits.max_chars)
    blocks: list[Block] = []
    heading: str | None = None
    para: list[str] = []
    title = (document.core_properties.title or "").strip() or None

    def flush() -> None:
        if para:
            blocks.append(Block(budget.take("\n".join(para)), heading=heading))
            para.clear()

    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = item.text.strip()
            if not text:
                continue
            style = (item.style.name if item.style is not None else "") or ""
            if style.startswith("Heading") or style == "Title":
                flush()
                heading = text[:500]
                if style == "Title" and title is None:
                    title = text[:300]
            para.append(text)
        elif isinstance(item, Table):
            flush()
            rows = []
            for row in item.rows:
                cells = [" ".join(cell.text.split()) for cell in row.cells]
                deduped = [c for k, c in enumerate(cells) if k == 0 or c != cells[k - 1]]
                rows.append(" | ".join(deduped))
            if not rows:
                continue
            header = rows[0]
            blocks.append(
                Block(
                    budget.take("\n".join(rows)),
                    heading=heading,
                    kind=BlockKind.TABLE,
                    caption=heading,
                    header=header,
                )
            )
    flush()
    if title is None and blocks:
        title = blocks[0].text.split("\n", 1)[0][:300]
    return ExtractedDocument(blocks=blocks, page_count=None, title=title)
