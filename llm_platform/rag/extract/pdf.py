"""PDF text with page numbers: ruled tables from pdfplumber on the pages that draw rules,
words and their boxes from pdfplumber there and from pypdfium2 elsewhere (tables whole,
columns in reading order, running headers and footers dropped); pages without a text
layer go to OCR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_platform.rag.extract.base import (
    CharBudget,
    ExtractedDocument,
    ExtractionError,
    Limits,
    ProgressFn,
)
from llm_platform.rag.extract.ocr import ocr_available, ocr_image
from llm_platform.rag.extract.pdf_blocks import document_blocks
from llm_platform.rag.extract.pdf_layout import (
    Line,
    PageLayout,
    Table,
    page_layout,
    plumber_words,
    ruled_tables,
)
from llm_platform.rag.extract.pdf_words import may_hold_ruled_table, page_words

_MIN_TEXT_CHARS = 16  # below this a page is treated as scanned
_OCR_SCALE = 200 / 72  # render at 200 dpi


def extract_pdf(
    path: Path, limits: Limits, progress: ProgressFn | None = None
) -> ExtractedDocument:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        message = str(exc).lower()
        if "password" in message:
            raise ExtractionError("PDF is encrypted (password protected)") from None
        raise ExtractionError(f"Corrupt or unreadable PDF ({exc})") from None
    plumber: list[Any] = []  # opened on the first page that may hold a ruled table
    try:
        count = len(pdf)
        if count == 0:
            raise ExtractionError("PDF has no pages")
        if count > limits.max_pages:
            raise ExtractionError(
                f"PDF has {count:,} pages; the limit is {limits.max_pages:,} (MAX_FILE_PAGES)"
            )
        title = _metadata_title(pdf)
        budget = CharBudget(limits.max_chars)
        layouts: list[PageLayout] = []
        ocr_pages = 0
        notes: list[str] = []
        for index in range(count):
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                text = textpage.get_text_bounded()
                layout: PageLayout | None = None
                if len(text.strip()) < _MIN_TEXT_CHARS:
                    if limits.ocr and ocr_available():
                        text = _ocr_page(page, limits)
                        ocr_pages += 1
                    elif text.strip() == "":
                        notes.append(f"page {index + 1}: no text layer and OCR unavailable")
                else:
                    try:
                        layout = _layout(path, plumber, page, textpage, index)
                    except Exception:  # an odd page: its plain text, not a failed file
                        layout = None
                textpage.close()
            finally:
                page.close()
            if layout is None:  # OCR text, or a page that could not be laid out
                layout = PageLayout(index + 1, [_plain_line(ln) for ln in _lines(text)])
            budget.take("".join(_item_text(i) for i in layout.items))
            layouts.append(layout)
            if title is None:
                title = _first_line("\n".join(_item_text(i) for i in layout.items[:3]))
            if progress is not None:
                progress((index + 1) / count)
        blocks = document_blocks(layouts)
        return ExtractedDocument(
            blocks=blocks, page_count=count, title=title, ocr_pages=ocr_pages, notes=notes
        )
    finally:
        for opened in plumber:
            if opened is not None:
                opened.close()
        pdf.close()


def _layout(path: Path, plumber: list[Any], page: Any, textpage: Any, index: int) -> PageLayout:
    """Words and ruled tables from pdfplumber on pages whose paths could rule a table (its
    page parse is the slow part: it is paid only there); words from pdfium elsewhere."""
    width, height = float(page.get_width()), float(page.get_height())
    if may_hold_ruled_table(page):
        if not plumber:
            plumber.append(_open_plumber(path))
        if plumber[0] is not None:
            found = _plumber_page(plumber[0], index)
            if found is not None:
                words, tables = found
                return page_layout(words, tables, width, height, index + 1)
    return page_layout(page_words(page, textpage), [], width, height, index + 1)


def _open_plumber(path: Path) -> Any:
    import pdfplumber

    try:
        return pdfplumber.open(str(path))
    except Exception:  # pdfium reads some files pdfminer cannot: no ruled tables for those
        return None


def _plumber_page(plumber: Any, index: int) -> tuple[list[dict[str, Any]], list[Table]] | None:
    try:
        page = plumber.pages[index]
    except Exception:
        return None
    try:
        return plumber_words(page), ruled_tables(page)
    except Exception:
        return None
    finally:
        page.close()


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _plain_line(text: str) -> Line:
    return Line(text=text.rstrip(), top=0.0, bottom=0.0, x0=0.0, x1=0.0, cells=[text])


def _item_text(item: Line | Table) -> str:
    if isinstance(item, Line):
        return item.text + "\n"
    return "\n".join(" ".join(r) for r in item.rows) + "\n"


def _ocr_page(page: object, limits: Limits) -> str:
    bitmap = page.render(scale=_OCR_SCALE)  # type: ignore[attr-defined]
    try:
        image = bitmap.to_pil()
    finally:
        bitmap.close()
    if image.width * image.height > limits.max_image_pixels:
        raise ExtractionError("PDF page too large to OCR (limit MAX_IMAGE_PIXELS)")
    return ocr_image(image)


def _metadata_title(pdf: object) -> str | None:
    try:
        meta = pdf.get_metadata_dict(skip_empty=True)  # type: ignore[attr-defined]
    except Exception:
        return None
    title = str(meta.get("Title", "")).strip()
    # Producers fill the field with placeholders; the first line of page 1 is better then.
    for prefix in ("Microsoft Word - ", "Microsoft PowerPoint - "):
        title = title.removeprefix(prefix)
    if len(title) < 4 or title.lower() in _PLACEHOLDER_TITLES:
        return None
    if title.lower().endswith((".doc", ".docx", ".pdf", ".tex", ".indd")):
        return None
    return title[:300]


_PLACEHOLDER_TITLES = frozenset({"untitled", "untitled document", "document", "title", "none"})


def _first_line(text: str) -> str | None:
    for line in text.split("\n"):
        if len(line.strip()) >= 3:
            return line.strip()[:300]
    return None
