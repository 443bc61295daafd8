"""Plain text, Markdown, CSV and HTML (tags and scripts dropped)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from llm_platform.rag.extract.base import (
    Block,
    BlockKind,
    CharBudget,
    ExtractedDocument,
    ExtractionError,
    Limits,
)

_MD_HEADING = re.compile(r"^#{1,6}\s+(.+)$")


def _read_text(path: Path, limits: Limits) -> str:
    size = path.stat().st_size
    if size > limits.max_chars * 4:
        raise ExtractionError(f"Text file too large (limit {limits.max_chars:,} characters)")
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return CharBudget(limits.max_chars).take(raw.decode(encoding))
        except UnicodeDecodeError:
            continue
    return CharBudget(limits.max_chars).take(raw.decode("latin-1"))


def extract_text(path: Path, limits: Limits, media_type: str) -> ExtractedDocument:
    text = _read_text(path, limits).replace("\r\n", "\n")
    if media_type in ("text/csv", "text/tab-separated-values"):
        lines = [ln for ln in text.split("\n") if ln.strip()]
        if not lines:
            return ExtractedDocument(blocks=[], page_count=None)
        block = Block("\n".join(lines), kind=BlockKind.TABLE, header=lines[0], caption=path.name)
        return ExtractedDocument(blocks=[block], page_count=None)
    return ExtractedDocument(blocks=_paragraph_blocks(text), page_count=None)


def _paragraph_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    heading: str | None = None
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(Block("\n".join(para), heading=heading))
            para.clear()

    for line in text.split("\n"):
        match = _MD_HEADING.match(line.strip())
        if match:
            flush()
            heading = match.group(1).strip()[:500]
            para.append(line.strip())
        elif not line.strip():
            flush()
        else:
            para.append(line.rstrip())
    flush()
    return blocks


class _HtmlText(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "head", "svg"})
    _BREAK = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.title: str | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in self._SKIP:
            self.skip += 1
        elif tag in self._BREAK:
            self.parts.append("\n")
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6") and not self.skip:
            self.parts.append("#" * int(tag[1]) + " ")
        if tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self._SKIP and self.skip:
            self.skip -= 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title and self.title is None:
            self.title = data.strip() or None
        if not self.skip:
            self.parts.append(data)


def extract_html(path: Path, limits: Limits) -> ExtractedDocument:
    parser = _HtmlText()
    parser.feed(_read_text(path, limits))
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n\s*\n\s*\n+", "\n\n", text)
    lines = [ln.strip() for ln in text.split("\n")]
    return ExtractedDocument(blocks=_paragraph_blocks("\n".join(lines)), title=parser.title)
