"""DOCX paragraphs and tables in document order, headings from paragraph styles."""

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

_MAX_XML_BYTES = 200 * 1024 * 1024  # uncompressed document.xml (zip bomb guard)


def extract_docx(path: Path, limits: Limits) -> ExtractedDocument:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > _MAX_XML_BYTES:
                raise ExtractionError("DOCX document body is too large (zip bomb guard)")
        document = docx.Document(str(path))
    except ExtractionError:
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
