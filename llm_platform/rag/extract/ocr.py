"""Images to text with Tesseract (Debian `tesseract-ocr`, via pytesseract)."""

from __future__ import annotations

import shutil
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from llm_platform.rag.extract.base import (
    CharBudget,
    ExtractedDocument,
    ExtractionError,
    Limits,
    blocks_from_lines,
)


@lru_cache(maxsize=1)
def ocr_available() -> bool:
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return shutil.which("tesseract") is not None


def ocr_image(image: Any) -> str:
    import pytesseract

    try:
        text: str = pytesseract.image_to_string(image.convert("L"), timeout=120)
    except RuntimeError as exc:  # pytesseract's timeout
        raise ExtractionError(f"OCR failed: {exc}") from None
    except pytesseract.TesseractError as exc:
        raise ExtractionError(f"OCR failed: {exc.message}") from None
    return text


def extract_image(path: Path, limits: Limits) -> ExtractedDocument:
    from PIL import Image

    # The size guard comes first (the header only, before any pixel is decoded), so a bomb
    # is refused as such whether or not OCR is installed; Pillow's own guard backs it up.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                pixels = image.width * image.height
                if pixels > limits.max_image_pixels:
                    raise ExtractionError(
                        f"Image too large: {image.width}x{image.height} pixels, over "
                        f"{limits.max_image_pixels:,} pixels (MAX_IMAGE_PIXELS, "
                        "decompression bomb guard)"
                    )
                if not (limits.ocr and ocr_available()):
                    raise ExtractionError(
                        "Image text recognition (OCR) is not available on this server "
                        "(install Tesseract: apt-get install tesseract-ocr tesseract-ocr-eng)"
                    )
                image.load()
                text = ocr_image(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ExtractionError(
            f"Image too large: over {limits.max_image_pixels:,} pixels "
            "(MAX_IMAGE_PIXELS, decompression bomb guard)"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ExtractionError(f"Corrupt or unreadable image ({exc})") from None
    text = CharBudget(limits.max_chars).take(text)
    blocks = blocks_from_lines(text.split("\n"), 1, None)
    return ExtractedDocument(blocks=blocks, page_count=1, ocr_pages=1)
