"""Retrieve small, read big: what the model is handed for each retrieved chunk.

Search ranks small chunks (precise matches); the model reads the chunk's section instead:
the whole table with its lead-in and header, or the run of text under one heading, with
the neighbouring sections added while they fit the per-source budget. A section larger than
the budget is cut to a window around the chunk (a table's lead-in and header rows kept at
the top). The sources of one answer share a total budget; a source whose section is
already in an earlier source's context adds nothing new and is folded into it.

A hit on a table is cited on the page of the row the question names (`table_rows`): a
table over a page break is read whole, but its rows keep the page they are printed on.

Files ingested before sections existed get the chunk with its neighbouring chunks."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.db.models import FileChunk, FileSection
from llm_platform.db.repositories.files import ChunkRepository
from llm_platform.rag.chunking import approx_tokens
from llm_platform.rag.table_rows import cite_row, query_terms

CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class ContextOptions:
    tokens_per_source: int = 600
    total_tokens: int = 3000
    neighbours: int = 2  # sections (or chunks) on each side that may be added


@dataclass
class HitContext:
    text: str
    pages: tuple[int | None, int | None]  # first and last page the context covers
    duplicate_of: int | None = None  # index of an earlier hit whose context holds this one
    # What to cite: the hit, or for a table the part holding the row the question names
    # (its page is the page that row is printed on), with that row under the header.
    cited: FileChunk | None = None
    rows: str | None = None

    @property
    def page(self) -> int | None:
        return self.cited.page if self.cited is not None else None


def _head(section: FileSection) -> list[str]:
    """A table's lead-in, header row and separator: kept on top of any window of it."""
    lines = section.text.split("\n")
    if section.kind != "table":
        return []
    for n, line in enumerate(lines[:12]):
        if line.startswith("| ---") or line.startswith("|---"):
            return lines[: n + 1]
    return lines[:2]


def window(section: FileSection, chunk_text: str, limit_chars: int) -> str:
    """The part of a long section around the chunk, cut at line ends."""
    text = section.text
    head = _head(section)
    anchor = next(
        (ln for ln in chunk_text.split("\n") if len(ln.strip()) >= 8 and ln not in head),
        chunk_text[:80],
    )
    pos = max(0, text.find(anchor.strip()[:120]))
    head_text = "\n".join(head)
    room = max(200, limit_chars - len(head_text))
    start = max(0, pos - max(0, room - len(chunk_text)) // 3)
    start = text.rfind("\n", 0, start) + 1 if start else 0
    end = min(len(text), start + room)
    if end < len(text):
        cut = text.rfind("\n", start, end)
        end = cut if cut > pos else end
    body = text[start:end]
    if head and start > len(head_text):
        return head_text + "\n" + body
    return body


def _stitch(parts: list[FileChunk]) -> str:
    """Neighbouring chunks of one file joined, their overlaps dropped."""
    out = ""
    end = -1
    for chunk in sorted(parts, key=lambda c: c.chunk_index):
        text = chunk.text
        if end > chunk.char_start and out:
            skip = end - chunk.char_start
            text = text[skip:] if skip < len(text) else ""
        if text:
            out += ("\n" if out else "") + text
        end = max(end, chunk.char_end)
    return out


async def build_contexts(
    session: AsyncSession, chunks: list[FileChunk], options: ContextOptions, query: str = ""
) -> list[HitContext]:
    """One context per hit, in the hits' order, within the budgets; a table hit cited on
    the page of the row `query` names."""
    repo = ChunkRepository(session)
    n = options.neighbours
    wanted = {
        (c.file_id, c.section_index + d)
        for c in chunks
        if c.section_index is not None
        for d in range(-n, n + 1)
        if c.section_index + d >= 0
    }
    sections = await repo.sections(wanted) if wanted else {}
    legacy = {
        (c.file_id, c.chunk_index + d)
        for c in chunks
        if c.section_index is None or (c.file_id, c.section_index) not in sections
        for d in range(-n, n + 1)
    }
    neighbours = await repo.neighbours(legacy) if legacy else {}
    hit_keys = {(c.file_id, c.section_index) for c in chunks if c.section_index is not None}
    tables = {key for key in hit_keys if key in sections and sections[key].kind == "table"}
    table_parts = await repo.section_chunks(tables) if tables and query else {}
    terms = query_terms(query) if table_parts else []

    per_source = options.tokens_per_source * CHARS_PER_TOKEN
    out: list[HitContext] = []
    covered: dict[tuple[str, int], int] = {}  # whole sections already handed over -> hit
    used = 0
    for i, chunk in enumerate(chunks):
        key = (chunk.file_id, chunk.section_index if chunk.section_index is not None else -1)
        row = cite_row(chunk, table_parts[key], terms) if key in table_parts else None
        cited = row.chunk if row is not None else chunk
        rows = row.rows if row is not None else None
        if key in covered:
            first = out[covered[key]]
            out.append(HitContext(first.text, first.pages, covered[key], cited, rows))
            continue
        remaining = options.total_tokens * CHARS_PER_TOKEN - used
        limit = max(len(chunk.text), min(per_source, remaining))
        section = sections.get(key)
        if section is None:
            parts = [
                neighbours[(chunk.file_id, chunk.chunk_index + d)]
                for d in range(-n, n + 1)
                if (chunk.file_id, chunk.chunk_index + d) in neighbours
            ]
            text, pages = _grow_chunks(chunk, parts, limit)
        elif len(section.text) > limit:  # a window around the cited rows
            anchor = rows.split("\n")[-1] if rows is not None else chunk.text
            text = window(section, anchor, limit)
            pages = (cited.page, cited.page)
        else:
            text, pages, whole = _grow_sections(chunk, section, sections, limit, n)
            for index in whole:
                covered.setdefault((chunk.file_id, index), i)
        used += len(text)
        out.append(HitContext(text, pages, cited=cited, rows=rows))
    return out


def _grow_sections(
    chunk: FileChunk,
    section: FileSection,
    sections: dict[tuple[str, int], FileSection],
    limit: int,
    n: int,
) -> tuple[str, tuple[int | None, int | None], list[int]]:
    """The section, then its neighbours (before first: lead-ins) while they fit."""
    parts = [section]
    size = len(section.text)
    for d in range(1, n + 1):
        for index in (section.section_index - d, section.section_index + d):
            other = sections.get((chunk.file_id, index))
            if other is None or size + len(other.text) + 2 > limit:
                continue
            parts.append(other)
            size += len(other.text) + 2
    parts.sort(key=lambda s: s.section_index)
    text = "\n\n".join(p.text for p in parts)
    first = min((p.page for p in parts if p.page is not None), default=None)
    last = max((p.page_end or p.page or 0 for p in parts), default=None) or first
    return text, (first, last), [p.section_index for p in parts]


def _grow_chunks(
    chunk: FileChunk, parts: list[FileChunk], limit: int
) -> tuple[str, tuple[int | None, int | None]]:
    chosen = [chunk]
    size = len(chunk.text)
    for other in sorted(parts, key=lambda c: abs(c.chunk_index - chunk.chunk_index)):
        if other.chunk_index == chunk.chunk_index or size + len(other.text) > limit:
            continue
        chosen.append(other)
        size += len(other.text)
    pages = [c.page for c in chosen if c.page is not None]
    return _stitch(chosen), (min(pages, default=None), max(pages, default=None))


def context_tokens(text: str) -> int:
    return approx_tokens(text)
