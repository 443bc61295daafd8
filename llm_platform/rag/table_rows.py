"""Row-level citations for tables: the page a question's row is printed on.

A table is one section (what the model reads) but several chunks: one per page it spans (or
per budget-sized run of rows), each repeating the lead-in and header. Search may rank any
of them first — often the first page's, whose lead-in reads like the question. The citation
should still point where the row the question names is printed: among the table's chunks,
the row sharing the most (and the rarest within the table) of the question's terms picks
the chunk, hence the page, that is cited; the repeated lead-in and header lines never count.
A borderless table's first data row stands in for its header and is repeated too: it counts
as a row of the first part, where it is printed.
With no row naming the question, or the best row in the hit itself, the hit is cited."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from llm_platform.db.models import FileChunk
from llm_platform.rag.extract.base import numeric_cells
from llm_platform.rag.query_text import keyword_terms, strip_boilerplate


@dataclass(frozen=True)
class RowCitation:
    chunk: FileChunk  # the part of the table holding the row: its page is the citation's
    rows: str  # the table's header row(s), then the row(s) the question names


def query_terms(query: str) -> list[str]:
    return keyword_terms(strip_boilerplate(query))


_YEAR = re.compile(r"^(?:19|20)\d{2}$")


def _data_row(line: str) -> bool:
    """A repeated line that is a row of figures (not a header of years, not Markdown's)."""
    if line.startswith("|") or numeric_cells(line) < 2:
        return False
    return not all(_YEAR.match(tok) for tok in line.split() if tok[:1].isdigit())


def _contains(line: str, term: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(term)}(?![\w])", line) is not None


def cite_row(hit: FileChunk, parts: list[FileChunk], terms: list[str]) -> RowCitation | None:
    """The chunk of the table (`parts`, the hit's siblings in its section, in order) whose
    row best matches the question's terms, with that row under the header; None when no
    row matches or the table is one chunk."""
    if len(parts) < 2 or not terms:
        return None
    lines = [p.text.split("\n") for p in parts]
    repeated = set(lines[0]).intersection(*lines[1:])  # lead-in and header of every part
    rows = [
        (n, ln)
        for n, part in enumerate(lines)
        for ln in part
        if ln and (ln not in repeated or (n == 0 and _data_row(ln)))
    ]
    if not rows:
        return None
    lowered = [ln.lower() for _, ln in rows]
    found = {t: [i for i, ln in enumerate(lowered) if _contains(ln, t)] for t in terms}
    weight = {t: math.log(1 + len(rows) / len(at)) for t, at in found.items() if at}
    if not weight:
        return None
    scores = [0.0] * len(rows)
    for term, w in weight.items():
        for i in found[term]:
            scores[i] += w
    best = max(scores)
    if best <= 0:
        return None
    top = [i for i, s in enumerate(scores) if s >= best - 1e-9]
    own = next((n for n, p in enumerate(parts) if p.id == hit.id), None)
    chosen = next((i for i in top if rows[i][0] == own), top[0])
    part = rows[chosen][0]
    header = [ln for ln in lines[part] if ln in repeated and ln.startswith("|")]
    picked = [rows[i][1] for i in top if rows[i][0] == part]
    return RowCitation(chunk=parts[part], rows="\n".join([*header, *picked]))
