"""Text out of files: one function per format, one entry point, one error type."""

from __future__ import annotations

from pathlib import Path

from llm_platform.core.config import Settings
from llm_platform.rag.extract.base import (
    Block,
    BlockKind,
    ExtractedDocument,
    ExtractionError,
    Limits,
    ProgressFn,
)
from llm_platform.rag.filetypes import FileKind, ZipBudget

__all__ = [
    "Block",
    "BlockKind",
    "ExtractedDocument",
    "ExtractionError",
    "Limits",
    "extract",
    "limits_from_settings",
    "zip_budget_from_settings",
]


def limits_from_settings(settings: Settings) -> Limits:
    return Limits(
        max_pages=settings.MAX_FILE_PAGES,
        max_chars=settings.MAX_EXTRACTED_CHARS,
        max_image_pixels=settings.MAX_IMAGE_PIXELS,
        max_audio_seconds=settings.MAX_AUDIO_SECONDS,
        ocr=settings.OCR_ENABLED,
        audio=settings.AUDIO_ENABLED,
    )


def zip_budget_from_settings(settings: Settings) -> ZipBudget:
    return ZipBudget(
        max_bytes=int(settings.MAX_UNCOMPRESSED_MB * 1024 * 1024),
        max_ratio=settings.MAX_COMPRESSION_RATIO,
    )


def extract(
    path: Path,
    kind: FileKind,
    media_type: str,
    limits: Limits,
    progress: ProgressFn | None = None,
    *,
    zip_budget: ZipBudget | None = None,
) -> ExtractedDocument:
    """Blocking: call it in a worker thread (or a child process, see `isolated`). Raises
    `ExtractionError` for any unreadable file. `zip_budget`: the unpacked size of every
    member of a ZIP-based file is counted against it before the file is parsed."""
    if kind is FileKind.PDF:
        from llm_platform.rag.extract.pdf import extract_pdf

        return extract_pdf(path, limits, progress)
    if kind is FileKind.DOCX:
        from llm_platform.rag.extract.office import extract_docx

        return extract_docx(path, limits, zip_budget)
    if kind is FileKind.HTML:
        from llm_platform.rag.extract.text import extract_html

        return extract_html(path, limits)
    if kind is FileKind.TEXT:
        from llm_platform.rag.extract.text import extract_text

        return extract_text(path, limits, media_type)
    if kind is FileKind.IMAGE:
        from llm_platform.rag.extract.ocr import extract_image

        return extract_image(path, limits)
    if kind is FileKind.AUDIO:
        from llm_platform.rag.extract.audio import extract_audio

        return extract_audio(path, limits, progress)
    raise ExtractionError(f"No extractor for {kind}")
