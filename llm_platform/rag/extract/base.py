"""What every extractor returns, the limits it enforces and the one error it raises."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

ProgressFn = Callable[[float], None]
"""Called from the extraction thread with the fraction done (0..1)."""


class ExtractionError(Exception):
    """The file cannot be read; the message is shown to its owner (no internals)."""


class BlockKind(StrEnum):
    TEXT = "text"
    TABLE = "table"


@dataclass
class Block:
    """A run of text in reading order: a paragraph group, or a whole table.

    `heading` is the section heading in force; for a table `caption` (its caption or lead-in
    sentence) and `header` (the header row) are repeated in every chunk the table is split
    into."""

    text: str
    page: int | None = None
    heading: str | None = None
    kind: BlockKind = BlockKind.TEXT
    caption: str | None = None
    header: str | None = None
    # A table continued over page breaks: the page of each row after the caption/header.
    row_pages: list[int] | None = None
    columns: int | None = None


@dataclass
class ExtractedDocument:
    blocks: list[Block]
    page_count: int | None = None
    title: str | None = None
    ocr_pages: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def char_count(self) -> int:
        return sum(len(b.text) for b in self.blocks)


@dataclass(frozen=True)
class Limits:
    max_pages: int
    max_chars: int
    max_image_pixels: int
    max_audio_seconds: int
    ocr: bool
    audio: bool


class CharBudget:
    """Counts extracted characters and stops a decompression-bomb style document."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, text: str) -> str:
        self.used += len(text)
        if self.used > self.limit:
            raise ExtractionError(
                f"Document has more than {self.limit:,} characters of text "
                "(limit MAX_EXTRACTED_CHARS)"
            )
        return text


_NUMBERISH = re.compile(
    r"^[\(\-+\u2212\u2013]?[$€£¥]?\d[\d,.]*%?[\)]?$|^[-\u2013\u2014]$|^n/?a$", re.IGNORECASE
)
_HEADING_END = re.compile(r"[.,;:!?]$")


def numeric_cells(line: str) -> int:
    return sum(1 for tok in line.split() if _NUMBERISH.match(tok))


def looks_like_heading(line: str) -> bool:
    text = line.strip()
    if not (3 <= len(text) <= 90) or _HEADING_END.search(text):
        return False
    words = text.split()
    if len(words) > 12 or numeric_cells(text) >= 2:
        return False
    first = text[0]
    return first.isupper() or first.isdigit()


def blocks_from_lines(
    lines: list[str],
    page: int | None,
    heading: str | None,
    heading_lines: set[int] | None = None,
) -> list[Block]:
    """Group a page's lines into paragraphs, headings and tables.

    A table is a run of at least two lines with two or more numeric cells; the line before
    the run is its header row when it has fewer numbers, and a line starting with "Table"
    (or the heading right above) is its caption. Headings are the lines in `heading_lines`
    when the caller knows them (from the fonts; consecutive ones are one heading), else
    guessed from the line's shape."""
    blocks: list[Block] = []
    para: list[str] = []
    current = heading

    def flush() -> None:
        if para:
            blocks.append(Block("\n".join(para), page=page, heading=current))
            para.clear()

    i = 0
    n = len(lines)
    while i < n:
        line = lines[i].rstrip()
        if not line.strip():
            flush()
            i += 1
            continue
        j = i
        while j < n and numeric_cells(lines[j]) >= 2:
            j += 1
        if j - i >= 2:
            header = None
            caption = None
            if para and para[-1] != current and len(para[-1]) < 200:
                header = para.pop()
            if para and para[-1].lower().startswith(("table", "exhibit", "figure")):
                caption = para.pop()
            flush()
            if caption is None and current is not None:
                caption = current
            rows = [ln.rstrip() for ln in lines[i:j]]
            if header is None:
                header = rows[0]
                rows = rows[1:]
            body = "\n".join(([header] if header else []) + rows)
            if caption and caption != current:
                body = caption + "\n" + body
            blocks.append(
                Block(
                    body,
                    page=page,
                    heading=current,
                    kind=BlockKind.TABLE,
                    caption=caption,
                    header=header,
                )
            )
            i = j
            continue
        if heading_lines is not None:
            if i in heading_lines:
                flush()
                parts = [line.strip()]
                while i + 1 < n and i + 1 in heading_lines and len(" ".join(parts)) < 200:
                    i += 1
                    parts.append(lines[i].strip())
                current = " ".join(parts)
                para.append(current)
                i += 1
                continue
        elif looks_like_heading(line) and (i + 1 < n and lines[i + 1].strip()):
            nxt = lines[i + 1]
            # A heading is followed by prose or a table, not by another short line pair.
            if numeric_cells(line) == 0 and (len(nxt) > len(line) or numeric_cells(nxt) >= 2):
                flush()
                current = line.strip()
                para.append(line.strip())
                i += 1
                continue
        para.append(line)
        i += 1
    flush()
    return blocks
