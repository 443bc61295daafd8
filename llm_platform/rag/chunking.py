"""Token-aware recursive chunking that keeps where each chunk came from.

Text blocks of one page are packed together up to the token budget; a longer block is split
recursively on paragraph, line, sentence and word boundaries with a token overlap. A table
stays whole when it fits; a longer one is split by rows and every piece repeats the caption
and header row, so each chunk reads as a table on its own. Chunks never span pages (a table
continued over a page break is cut there too), so each carries one page number for
citations; the whole table is its chunks' section (what the model reads)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from llm_platform.rag.extract.base import Block, BlockKind, ExtractedDocument

TokenCounter = Callable[[str], int]
_SEPARATORS = ("\n\n", "\n", ". ", "; ", ", ", " ")
_PERIOD = re.compile(r"\b(?:Q[1-4]|H[12]|FY)\s?'?\d{2,4}\b|\b(?:19|20)\d{2}\b", re.IGNORECASE)


@dataclass
class Chunk:
    index: int
    text: str
    page: int | None
    char_start: int
    char_end: int
    heading: str | None
    context: str
    token_count: int
    section: int = 0

    @property
    def embed_text(self) -> str:
        """What is embedded and keyword-indexed: the document context, then the text."""
        return f"{self.context}\n{self.text}" if self.context else self.text


@dataclass
class Section:
    """The unit a chunk is read in: a whole table (with its lead-in) or a run of text under
    one heading. Search finds chunks; the model is handed their section (or a window of it)."""

    index: int
    kind: str
    page: int | None
    page_end: int | None
    heading: str | None
    text: str
    token_count: int


SECTION_MAX_TOKENS = 1200  # a text section longer than this (approximate count) starts anew


def approx_tokens(text: str) -> int:
    """Rough count for tokenizers we do not have locally (about 4 characters a token)."""
    return max(1, (len(text) + 3) // 4)


def document_context(title: str | None, file_name: str, heading: str | None) -> str:
    """Title (or file name), its period when named, and the section heading."""
    parts = [title or file_name]
    if title and file_name and file_name not in title:
        parts.append(file_name)
    if heading and heading not in parts[0]:
        parts.append(heading)
    return " | ".join(p.strip() for p in parts if p and p.strip())[:600]


def _split_recursive(
    text: str, budget: int, count: TokenCounter, separators: tuple[str, ...]
) -> list[str]:
    """Pieces of `text`, each within `budget` tokens, concatenating back to `text`."""
    if count(text) <= budget:
        return [text]
    for pos, sep in enumerate(separators):
        if sep not in text:
            continue
        parts = text.split(sep)
        pieces = [p + sep for p in parts[:-1]] + [parts[-1]]
        out: list[str] = []
        for piece in pieces:
            if not piece:
                continue
            if count(piece) <= budget:
                out.append(piece)
            else:
                out.extend(_split_recursive(piece, budget, count, separators[pos + 1 :]))
        return out
    # No separator left: cut by characters proportionally.
    step = max(1, len(text) * budget // max(1, count(text)))
    return [text[i : i + step] for i in range(0, len(text), step)]


def _merge(
    pieces: list[str], budget: int, overlap: int, count: TokenCounter
) -> list[tuple[int, int]]:
    """Greedy packing of consecutive pieces into windows, as (first, last+1) piece indices,
    each window starting with up to `overlap` tokens of the previous one's tail."""
    sizes = [count(p) for p in pieces]
    windows: list[tuple[int, int]] = []
    start = 0
    n = len(pieces)
    while start < n:
        end = start
        total = 0
        while end < n and (end == start or total + sizes[end] <= budget):
            total += sizes[end]
            end += 1
        windows.append((start, end))
        if end >= n:
            break
        back = end
        carried = 0
        while back - 1 > start and carried + sizes[back - 1] <= overlap:
            back -= 1
            carried += sizes[back]
        start = back
    return windows


class Chunker:
    def __init__(self, count: TokenCounter, max_tokens: int = 512, overlap: int = 128) -> None:
        if overlap >= max_tokens:
            overlap = max_tokens // 4
        # Splitting and packing count the same pieces more than once (half the calls are
        # repeats); a tokenizer pass is the slow part of chunking.
        self.count: TokenCounter = functools.lru_cache(maxsize=16384)(count)
        self.max_tokens = max_tokens
        self.overlap = overlap

    def chunk(self, doc: ExtractedDocument, file_name: str) -> list[Chunk]:
        return self.chunk_with_sections(doc, file_name)[0]

    def chunk_with_sections(
        self, doc: ExtractedDocument, file_name: str
    ) -> tuple[list[Chunk], list[Section]]:
        chunks: list[Chunk] = []
        sections: list[Section] = []
        offset = 0
        group: list[tuple[Block, int]] = []

        def emit(text: str, block: Block, start: int, page: int | None = None) -> None:
            text = text.strip("\n ")
            if not text.strip():
                return
            context = document_context(doc.title, file_name, block.heading)
            chunks.append(
                Chunk(
                    index=len(chunks),
                    text=text,
                    page=page if page is not None else block.page,
                    char_start=start,
                    char_end=start + len(text),
                    heading=block.heading,
                    context=context,
                    token_count=self.count(text),
                    section=len(sections) - 1,
                )
            )

        def open_section(block: Block) -> None:
            last_page = (block.row_pages or [block.page or 0])[-1] or block.page
            sections.append(
                Section(
                    index=len(sections),
                    kind=block.kind.value,
                    page=block.page,
                    page_end=last_page,
                    heading=block.heading,
                    text=block.text,
                    token_count=approx_tokens(block.text),
                )
            )

        def extend_section(block: Block) -> bool:
            """Add a text block to the open text section; False when it starts a new one."""
            if not sections or sections[-1].kind != BlockKind.TEXT.value:
                return False
            current = sections[-1]
            size = approx_tokens(block.text)
            if current.heading != block.heading or current.token_count + size > SECTION_MAX_TOKENS:
                return False
            current.text += "\n\n" + block.text
            current.token_count += size
            current.page_end = block.page
            return True

        def flush_group() -> None:
            if not group:
                return
            first, start = group[0]
            text = "\n\n".join(b.text for b, _ in group)
            budget = self._budget(doc, file_name, first)
            pieces = _split_recursive(text, budget, self.count, _SEPARATORS)
            positions = []
            pos = 0
            for piece in pieces:
                positions.append(pos)
                pos += len(piece)
            for a, b in _merge(pieces, budget, self.overlap, self.count):
                emit("".join(pieces[a:b]), first, start + positions[a])
            group.clear()

        for block in doc.blocks:
            start = offset
            offset += len(block.text) + 2
            if block.kind is BlockKind.TABLE:
                flush_group()
                open_section(block)
                self._table(block, start, doc, file_name, emit)
                continue
            if not extend_section(block):
                flush_group()
                open_section(block)
            if group:
                prev = group[-1][0]
                same_page = prev.page == block.page
                if not same_page or block.heading != prev.heading:
                    flush_group()
            group.append((block, start))
        flush_group()
        return chunks, sections

    def _budget(self, doc: ExtractedDocument, file_name: str, block: Block) -> int:
        context = document_context(doc.title, file_name, block.heading)
        return max(16, self.max_tokens - self.count(context) - 2)

    def _table(
        self,
        block: Block,
        start: int,
        doc: ExtractedDocument,
        file_name: str,
        emit: Callable[..., None],
    ) -> None:
        budget = self._budget(doc, file_name, block)
        spans_pages = block.row_pages is not None and len(set(block.row_pages)) > 1
        if not spans_pages and self.count(block.text) <= budget:
            emit(block.text, block, start)
            return
        lines = block.text.split("\n")
        lead = [ln for part in (block.caption, block.header) if part for ln in part.split("\n")]
        body = [ln for ln in lines if ln not in lead]
        pages = block.row_pages if block.row_pages and len(block.row_pages) == len(body) else None
        lead_text = "\n".join(lead)
        row_budget = max(16, budget - self.count(lead_text) - 1)
        rows: list[str] = []
        used = 0
        pos = start
        first = 0
        for n, row in enumerate(body):
            size = self.count(row)
            new_page = pages is not None and pages[n] != pages[first]
            if rows and (used + size > row_budget or new_page):
                page = pages[first] if pages else None
                emit("\n".join([lead_text, *rows]) if lead else "\n".join(rows), block, pos, page)
                pos += sum(len(r) + 1 for r in rows)
                rows, used, first = [], 0, n
            rows.append(row)
            used += size
        if rows:
            page = pages[first] if pages else None
            emit("\n".join([lead_text, *rows]) if lead else "\n".join(rows), block, pos, page)


def periods_in(text: str) -> set[str]:
    """Normalised period mentions (Q3 2024 -> 'q3', '2024'); used to focus retrieval."""
    found: set[str] = set()
    for match in _PERIOD.finditer(text):
        for tok in re.split(r"[\s']+", match.group(0).lower()):
            if tok:
                found.add(tok)
    return found
