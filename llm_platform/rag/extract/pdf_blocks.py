"""Laid-out PDF pages -> blocks: running headers/footers dropped, paragraphs, headings,
tables as whole units with their lead-in, tables continued over page breaks joined."""

from __future__ import annotations

from dataclasses import dataclass

from llm_platform.rag.extract.base import Block, BlockKind, blocks_from_lines, numeric_cells
from llm_platform.rag.extract.pdf_layout import (
    Line,
    PageLayout,
    Table,
    is_running,
    running_lines,
)

LEAD_IN_MAX_CHARS = 600  # a paragraph right before a table up to this long is its lead-in


def markdown_rows(rows: list[list[str]], width: int) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    return [
        "| " + " | ".join(cell(c) for c in (row + [""] * (width - len(row)))) + " |" for row in rows
    ]


def _lead_in(blocks: list[Block], page: int) -> str | None:
    """Take the paragraph right before a table (same or previous page) as its lead-in."""
    if not blocks:
        return None
    prev = blocks[-1]
    if prev.kind is not BlockKind.TEXT or len(prev.text) > LEAD_IN_MAX_CHARS:
        return None
    if prev.page != page and not prev.text.rstrip().endswith(":"):
        return None
    blocks.pop()
    return prev.text.strip()


def _ruled_table(table: Table, page: int, heading: str | None, blocks: list[Block]) -> Block:
    width = max(len(r) for r in table.rows)
    lead = _lead_in(blocks, page)
    header, *rows = markdown_rows(table.rows, width)
    header += "\n" + "| " + " | ".join(["---"] * width) + " |"
    text = "\n".join([*([lead] if lead else []), header, *rows])
    return Block(
        text,
        page=page,
        heading=heading,
        kind=BlockKind.TABLE,
        caption=lead,
        header=header,
        row_pages=[page] * len(rows),
        columns=width,
    )


def _continues(prev: Block, block: Block) -> bool:
    """A table at the top of a page carrying on the table that ended the previous page."""
    if prev.kind is not BlockKind.TABLE or block.kind is not BlockKind.TABLE:
        return False
    if prev.page is None or block.page is None:
        return False
    last_page = (prev.row_pages or [prev.page])[-1]
    return (
        block.page == last_page + 1
        and prev.columns == block.columns
        and block.caption in (None, block.heading)
    )


def _join(prev: Block, block: Block) -> None:
    """Rows of the continuation appended to the table (a repeated header row skipped)."""
    lines = block.text.split("\n")
    lead = [*(block.caption or "").split("\n"), *(block.header or "").split("\n")]
    rows = [ln for ln in lines if ln and ln not in lead]
    header_rows = (block.header or "").split("\n")
    if block.header and block.header != prev.header and block.columns is None:
        rows = [header_rows[0], *rows]  # borderless: its "header" was a data row
    elif block.header and block.header != prev.header:
        rows = [r for r in header_rows if "---" not in r] + rows
    prev.text += "\n" + "\n".join(rows)
    pages = prev.row_pages or []
    prev.row_pages = pages + [block.page or 0] * len(rows)


@dataclass(frozen=True)
class _Fonts:
    body: float  # the size most text is set in (by characters)
    rare: frozenset[float]  # sizes larger than body used for little text: heading sizes


def _fonts(layouts: list[PageLayout]) -> _Fonts:
    chars: dict[float, int] = {}
    for layout in layouts:
        for item in layout.items:
            if isinstance(item, Line) and item.size:
                size = round(item.size, 1)
                chars[size] = chars.get(size, 0) + len(item.text)
    if not chars:
        return _Fonts(0.0, frozenset())
    body = max(chars, key=lambda s: chars[s])
    total = sum(chars.values())
    rare = frozenset(s for s, n in chars.items() if s >= body + 1.5 and n <= total * 0.15)
    return _Fonts(body, rare)


def _is_heading(line: Line, fonts: _Fonts) -> bool:
    """Short lines in a rare larger size, or short bold lines that are not sentences."""
    text = line.text.strip()
    if not fonts.body or not line.size or len(text) > 90 or numeric_cells(text) >= 2:
        return False
    if round(line.size, 1) in fonts.rare:
        return True
    return line.bold and len(text) <= 70 and not text.endswith((".", ",", ";", ":"))


def _page_blocks(
    layout: PageLayout, drop: set[str], heading: str | None, fonts: _Fonts
) -> tuple[list[Block], str | None]:
    blocks: list[Block] = []
    lines: list[str] = []
    heads: set[int] = set()
    geometry = any(isinstance(i, Line) and i.size for i in layout.items)
    prev: Line | None = None

    def flush() -> None:
        nonlocal heading
        if lines:
            found = blocks_from_lines(lines, layout.number, heading, heads if geometry else None)
            for block in found:
                if block.kind is BlockKind.TABLE:
                    block.columns = None
                    lead = (block.caption, block.header)
                    rows = [ln for ln in block.text.split("\n") if ln not in lead]
                    block.row_pages = [layout.number] * len(rows)
                    if not block.caption or block.caption == block.heading:
                        lead_in = _lead_in(blocks, layout.number)
                        if lead_in:
                            block.caption = lead_in
                            block.text = lead_in + "\n" + block.text
                blocks.append(block)
                heading = block.heading
            lines.clear()
            heads.clear()

    for item in layout.items:
        if isinstance(item, Table):
            flush()
            blocks.append(_ruled_table(item, layout.number, heading, blocks))
            prev = None
            continue
        if is_running(item, drop):
            continue
        if prev is not None and prev.bottom > 0:
            gap = item.top - prev.bottom
            if gap > 0.7 * max(1.0, prev.bottom - prev.top):
                lines.append("")
        if _is_heading(item, fonts):
            heads.add(len(lines))
        lines.append("   ".join(item.cells) if len(item.cells) > 1 else item.text)
        prev = item
    flush()
    return blocks, heading


def document_blocks(layouts: list[PageLayout]) -> list[Block]:
    drop = running_lines(layouts)
    fonts = _fonts(layouts)
    blocks: list[Block] = []
    heading: str | None = None
    for layout in layouts:
        page_blocks, heading = _page_blocks(layout, drop, heading, fonts)
        if page_blocks and blocks and _continues(blocks[-1], page_blocks[0]):
            _join(blocks[-1], page_blocks.pop(0))
        elif page_blocks and page_blocks[0].kind is BlockKind.TABLE and not page_blocks[0].caption:
            lead = _lead_in(blocks, layout.number)
            if lead:
                first = page_blocks[0]
                first.caption = lead
                first.text = lead + "\n" + first.text
        blocks.extend(page_blocks)
    return blocks
