"""PDF text with page numbers (pypdfium2); pages without a text layer go to OCR."""

from __future__ import annotations

from pathlib import Path

from llm_platform.rag.extract.base import (
    Block,
    CharBudget,
    ExtractedDocument,
    ExtractionError,
    Limits,
    ProgressFn,
    blocks_from_lines,
)
from llm_platform.rag.extract.ocr import ocr_available, ocr_image

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
        blocks: list[Block] = []
        heading: str | None = None
        ocr_pages = 0
        notes: list[str] = []
        for index in range(count):
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                text = textpage.get_text_bounded()
                textpage.close()
                if len(text.strip()) < _MIN_TEXT_CHARS:
                    if limits.ocr and ocr_available():
                        text = _ocr_page(page, limits)
                        ocr_pages += 1
                    elif text.strip() == "":
                        notes.append(f"page {index + 1}: no text layer and OCR unavailable")
            finally:
                page.close()
            text = budget.take(text.replace("\r\n", "\n").replace("\r", "\n"))
            lines = text.split("\n")
            page_blocks = blocks_from_lines(lines, index + 1, heading)
            for block in page_blocks:
                heading = block.heading
            blocks.extend(page_blocks)
            if title is None:
                title = _first_line(text)
            if progress is not None:
                progress((index + 1) / count)
        return ExtractedDocument(
            blocks=blocks, page_count=count, title=title, ocr_pages=ocr_pages, notes=notes
        )
    finally:
        pdf.close()


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
