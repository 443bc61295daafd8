"""Page layout of a PDF with a text layer: ruled tables as whole units, text lines in reading
order (two-column pages read column by column), running headers, footers and page numbers
marked so the document pass can drop them.

Words with their boxes come from pdfium (pdf_words.py); pdfplumber (pdfminer.six) finds
ruled tables from the page's lines and rectangles. Borderless tables (columns of figures
aligned by spaces) are found later from the lines' numeric cells (`base.blocks_from_lines`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# A line this close to the top or bottom edge (points) may be a running header/footer.
_EDGE_BAND = 0.085
_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?[-\u2013(]?\s*[0-9ivxlc]{1,5}\s*[-\u2013)]?(?:\s*(?:of|/)\s*\d+)?$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
_CELL_GAP = 9.0  # a horizontal gap this wide (points) between words separates table cells
# Words split at gaps wider than 0.15 of the font size (pdfplumber's default of 3 points
# glues the words of tightly set text together).
_X_TOLERANCE_RATIO = 0.15
_TABLE_SETTINGS = {
    "vertical_strategy": "lines",
    "horizontal_strategy": "lines",
    "text_x_tolerance": 1.5,
}


@dataclass
class Line:
    text: str
    top: float
    bottom: float
    x0: float
    x1: float
    cells: list[str]
    edge: bool = False  # in the top or bottom band of the page
    size: float = 0.0  # largest font size on the line
    bold: bool = False  # every word set in a bold face


@dataclass
class Table:
    rows: list[list[str]]
    top: float
    bottom: float
    x0: float = 0.0
    x1: float = 0.0


@dataclass
class PageLayout:
    """One page's content in reading order: `items` are Lines and Tables."""

    number: int
    items: list[Line | Table] = field(default_factory=list)


def edge_key(text: str) -> str:
    """A running header/footer with its page number masked: '12 OPM Report' -> 'opm report'."""
    return _DIGITS.sub("#", " ".join(text.lower().split())).strip("# ")


def is_page_number(text: str) -> bool:
    return bool(_PAGE_NUMBER.match(text.strip()))


def _clean_cell(cell: str | None) -> str:
    return " ".join((cell or "").split())


def _useful_table(rows: list[list[str]]) -> bool:
    """Charts and boxes drawn with lines come out as tables of empty cells."""
    filled = [r for r in rows if sum(1 for c in r if c) >= 2]
    return len(filled) >= 2 and max(len(r) for r in rows) >= 2


def _rows(words: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Words on one baseline (within 3 pt), each row left to right, rows top to bottom."""
    rows: list[list[dict[str, Any]]] = []
    for word in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if rows and abs(rows[-1][0]["top"] - word["top"]) <= 3:
            rows[-1].append(word)
        else:
            rows.append([word])
    for row in rows:
        row.sort(key=lambda w: w["x0"])
    return rows


def _line(row: list[dict[str, Any]]) -> Line:
    """A row of words; cells split where the gap between words is wide."""
    cells: list[str] = []
    prev_x1: float | None = None
    for w in row:
        if prev_x1 is None or w["x0"] - prev_x1 > _CELL_GAP:
            cells.append(w["text"])
        else:
            cells[-1] += " " + w["text"]
        prev_x1 = w["x1"]
    return Line(
        text=" ".join(w["text"] for w in row),
        top=min(w["top"] for w in row),
        bottom=max(w["bottom"] for w in row),
        x0=row[0]["x0"],
        x1=max(w["x1"] for w in row),
        cells=cells,
        size=max(float(w.get("size", 0.0)) for w in row),
        bold=all("bold" in str(w.get("fontname", "")).lower() for w in row),
    )


def _gutter(words: list[dict[str, Any]], width: float) -> float | None:
    """The x of a column gutter when the page (or part of it) is set in two columns of prose.

    Candidates in the middle half of the page; one wins when many text rows have words on
    both sides of it and none across it, and both sides read as prose (not a figure column)."""
    if not words:
        return None
    keys = sorted({round(w["top"] / 2) for w in words})
    index = {k: n for n, k in enumerate(keys)}
    x0 = np.array([w["x0"] for w in words])
    x1 = np.array([w["x1"] for w in words])
    alpha = np.array([sum(ch.isalpha() for ch in w["text"]) for w in words], dtype=np.float64)
    onehot = np.zeros((len(words), len(keys)))  # word -> its row (same baseline)
    onehot[np.arange(len(words)), [index[round(w["top"] / 2)] for w in words]] = 1.0
    xs = np.arange(int(width * 0.3), int(width * 0.7), 3, dtype=np.float64)[:, None]
    crossing = ((x0 - 1 < xs) & (xs < x1 + 1)) @ onehot > 0
    left = (x1 <= xs) @ onehot
    right_words = x0 >= xs
    right = right_words @ onehot
    right_alpha = (right_words * alpha) @ onehot
    split = (~crossing & (left >= 2) & (right >= 2) & (right_alpha >= 6)).sum(axis=1)
    counts = list(zip(xs[:, 0].tolist(), split.tolist(), strict=True))
    top = max((n for _, n in counts), default=0)
    if top < 6:
        return None
    # The middle of the widest stretch of near-best candidates: clear of both columns.
    runs: list[list[float]] = []
    for x, n in counts:
        if n >= top * 0.9:
            if runs and x - runs[-1][-1] <= 3.5:
                runs[-1].append(x)
            else:
                runs.append([x])
    widest = max(runs, key=len)
    return (widest[0] + widest[-1]) / 2


def _reading_order(words: list[dict[str, Any]], width: float) -> list[Line]:
    """Lines of a stretch of the page without tables, two-column runs read column by column."""
    rows = _rows(words)
    gutter = _gutter(words, width)
    if gutter is None:
        return [_line(r) for r in rows]
    # Rows that cross the gutter are full width (titles, headings): they end a two-column
    # run, which is read left column first.
    out: list[Line] = []
    run: list[dict[str, Any]] = []

    def flush() -> None:
        for side in (
            [w for w in run if w["x1"] <= gutter],
            [w for w in run if w["x0"] >= gutter],
        ):
            out.extend(_line(r) for r in _rows(side))
        run.clear()

    for row in rows:
        if any(w["x0"] - 1 < gutter < w["x1"] + 1 for w in row):
            flush()
            out.append(_line(row))
        else:
            run.extend(row)
    flush()
    return out


def ruled_tables(page: Any) -> list[Table]:
    """pdfplumber's tables of one page, found from its lines and rectangles."""
    tables: list[Table] = []
    if page.lines or page.rects:
        for found in page.find_tables(_TABLE_SETTINGS):
            extracted = found.extract(x_tolerance_ratio=_X_TOLERANCE_RATIO)
            rows = [[_clean_cell(c) for c in row] for row in extracted]
            rows = [r for r in rows if any(r)]
            if _useful_table(rows):
                x0, top, x1, bottom = found.bbox
                tables.append(Table(rows=rows, top=top, bottom=bottom, x0=x0, x1=x1))
    return tables


def plumber_words(page: Any) -> list[dict[str, Any]]:
    return list(
        page.extract_words(
            keep_blank_chars=False,
            use_text_flow=False,
            extra_attrs=["size", "fontname"],
            x_tolerance_ratio=_X_TOLERANCE_RATIO,
        )
    )


def page_layout(
    words: list[dict[str, Any]], tables: list[Table], width: float, height: float, number: int
) -> PageLayout:
    """Words (pdfium's or pdfplumber's) and ruled tables -> lines and tables in reading
    order; the words inside a table are the table's."""
    boxes = [(t.x0, t.top, t.x1, t.bottom) for t in tables]
    top_band, bottom_band = height * _EDGE_BAND, height * (1 - _EDGE_BAND)
    free = [
        w
        for w in words
        if not any(
            b[0] - 1 <= (w["x0"] + w["x1"]) / 2 <= b[2] + 1
            and b[1] - 1 <= (w["top"] + w["bottom"]) / 2 <= b[3] + 1
            for b in boxes
        )
    ]
    layout = PageLayout(number)
    # Text between tables is laid out on its own, so a table breaks a two-column run.
    cuts = sorted(tables, key=lambda t: t.top)
    start = -1.0
    for table in [*cuts, None]:
        end = table.top if table is not None else height + 1
        stretch = [w for w in free if start <= w["top"] < end]
        layout.items.extend(_reading_order(stretch, width))
        if table is not None:
            layout.items.append(table)
            start = table.bottom
    for item in layout.items:
        if isinstance(item, Line):
            item.edge = item.top < top_band or item.bottom > bottom_band
    return layout


def _keys(line: Line) -> set[str]:
    """The line's key and its cells' (a footer split into title and page number, or cut
    in two by a column gutter on some pages, still matches itself on the others)."""
    keys = {edge_key(line.text), *(edge_key(c) for c in line.cells)}
    return {k for k in keys if any(ch.isalpha() for ch in k)}


def is_running(line: Line, running: set[str]) -> bool:
    """An edge line that is a running header/footer, a page number, or made of those."""
    if not line.edge:
        return False
    if edge_key(line.text) in running or is_page_number(line.text):
        return True
    return all(edge_key(c) in running or is_page_number(c) for c in line.cells)


def running_lines(pages: list[PageLayout]) -> set[str]:
    """Keys of edge lines repeated on many pages (running headers and footers)."""
    counts: dict[str, int] = {}
    for page in pages:
        seen = {k for i in page.items if isinstance(i, Line) and i.edge for k in _keys(i)}
        for key in seen:
            counts[key] = counts.get(key, 0) + 1
    need = max(2, int(len(pages) * 0.2))
    return {key for key, n in counts.items() if n >= need} if len(pages) >= 3 else set()
