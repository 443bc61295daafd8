"""Words with their boxes, font size and weight, straight from pdfium's text page.

pdfium gives every character's box through a C call, about forty times faster than
pdfminer's page parse: the words of every page come from here, and pdfplumber (pdfminer)
is asked only about pages whose vector paths can rule a table.

Words use pdfplumber's shape (x0, x1, top, bottom measured from the top of the page, text,
size, fontname) so the layout code does not care where they came from."""

from __future__ import annotations

import ctypes
from typing import Any

Word = dict[str, Any]

_SPACES = frozenset(" \t\r\n\xa0\u2002\u2003\u2009\ufffe\uffff")
_GAP = 0.6  # a gap wider than this share of the font size ends a word (pdfium marks
# ordinary word gaps with generated spaces itself)


def _font_name(raw: Any, textpage: Any, index: int) -> str:
    buf = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    raw.FPDFText_GetFontInfo(textpage, index, buf, 128, ctypes.byref(flags))
    name = buf.value.decode("latin-1", "replace")
    weight = raw.FPDFText_GetFontWeight(textpage, index)
    return name + ("-Bold" if weight >= 600 and "bold" not in name.lower() else "")


def page_words(page: Any, textpage: Any) -> list[Word]:
    """A pypdfium2 page's words, in pdfium's text order."""
    import pypdfium2.raw as raw

    height = float(page.get_height())
    tp = textpage.raw
    words: list[Word] = []
    chars: list[str] = []
    box: list[float] = []  # x0, x1, top, bottom of the current word
    size = 0.0
    start = 0

    def flush() -> None:
        if chars:
            words.append(
                {
                    "text": "".join(chars),
                    "x0": box[0],
                    "x1": box[1],
                    "top": box[2],
                    "bottom": box[3],
                    "size": size,
                    "fontname": _font_name(raw, tp, start),
                }
            )
            chars.clear()

    for i in range(textpage.count_chars()):
        code = raw.FPDFText_GetUnicode(tp, i)
        ch = chr(code) if code else " "
        if ch in _SPACES or raw.FPDFText_IsGenerated(tp, i):
            flush()
            continue
        left, bottom, right, top = textpage.get_charbox(i, loose=True)
        ctop, cbottom = height - top, height - bottom
        csize = float(raw.FPDFText_GetFontSize(tp, i))
        if chars and (
            left - box[1] > _GAP * max(csize, 1.0)
            or left < box[1] - max(csize, 1.0)  # went back: a new line or column
            or abs(ctop - box[2]) > 0.5 * max(csize, 1.0)
        ):
            flush()
        if not chars:
            box = [left, right, ctop, cbottom]
            size = csize
            start = i
        else:
            box[1] = max(box[1], right)
            box[2] = min(box[2], ctop)
            box[3] = max(box[3], cbottom)
            size = max(size, csize)
        chars.append(ch)
    flush()
    return words


def may_hold_ruled_table(page: Any) -> bool:
    """Whether the page draws at least two horizontal and two vertical rules (thin lines, or
    the edges of boxes smaller than half the page): only then is it worth pdfplumber's
    table finder."""
    import pypdfium2.raw as raw

    area = float(page.get_width()) * float(page.get_height())
    horizontal = vertical = 0
    for obj in page.get_objects(filter=[raw.FPDF_PAGEOBJ_PATH], max_depth=2):
        try:
            left, bottom, right, top = obj.get_bounds()
        except Exception:
            continue
        width, tall = right - left, top - bottom
        if width * tall > area / 2:
            continue  # a page background or frame
        if width > 15:
            horizontal += 1
        if tall > 6:
            vertical += 1
        if horizontal >= 2 and vertical >= 2:
            return True
    return False
