"""A generated library laid out like real filings: annual reports of four companies for two
fiscal years each (so the other year's report is a near miss that shares half its figures),
with running headers and footers, page numbers, two-column prose drawn in an order that is
not the reading order, ruled and borderless tables, tables split by page breaks, lead-in
sentences at the bottom of one page with their table on the next, and tables whose rows
only make sense with their lead-in ("... were as follows:").

Each question names the company and the fiscal year; its gold is the page that holds the
answer string, which occurs nowhere else in that report."""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass, field

COMPANIES = [
    ("Harbor Retail", "stores", ["Domestic segment", "International segment"]),
    ("Quarry Mining", "mines", ["Copper division", "Zinc division"]),
    ("Beacon Health", "clinics", ["Urgent care", "Specialty care"]),
    ("Vector Freight", "terminals", ["Ground network", "Air network"]),
]
YEARS = [2022, 2023]

PROSE = (
    "Management reviews the business each quarter against the plan approved by the board. "
    "Results reflect pricing actions, changes in volume and the mix of products sold, and "
    "the effects of currency movements on reported amounts. "
)
RISK = (
    "The company is exposed to competition, supply chain disruption, changes in laws and "
    "regulations, cyber incidents and the loss of key personnel; any of these could affect "
    "results of operations and financial condition. "
)

# Statement tables: (title, lead-in, row labels). Long ones are split over a page break.
STATEMENTS = [
    (
        "Consolidated statements of operations",
        "The following table presents the consolidated results of operations for the fiscal "
        "years indicated (in millions, except per share amounts):",
        [
            "Net sales",
            "Cost of sales",
            "Gross profit",
            "Selling, general and administrative expenses",
            "Restructuring charges",
            "Operating income",
            "Interest expense",
            "Other income, net",
            "Earnings before income taxes",
            "Income tax expense",
            "Net earnings",
            "Basic earnings per share",
            "Diluted earnings per share",
            "Weighted-average basic shares",
            "Weighted-average diluted shares",
            "Dividends declared per share",
        ],
    ),
    (
        "Consolidated balance sheets",
        "Selected balance sheet data at the end of each fiscal year were as follows (in millions):",
        [
            "Cash and cash equivalents",
            "Short-term investments",
            "Receivables, net",
            "Merchandise inventories",
            "Other current assets",
            "Total current assets",
            "Property and equipment, net",
            "Operating lease assets",
            "Goodwill",
            "Total assets",
            "Accounts payable",
            "Accrued liabilities",
            "Long-term debt",
            "Total liabilities",
            "Total shareholders' equity",
        ],
    ),
    (
        "Consolidated statements of cash flows",
        "Cash flows for the fiscal years were as follows (in millions):",
        [
            "Net cash provided by operating activities",
            "Capital expenditures",
            "Purchases of investments",
            "Proceeds from sale of investments",
            "Repurchases of common stock",
            "Dividends paid",
            "Repayments of debt",
            "Net increase in cash",
        ],
    ),
]


@dataclass(frozen=True)
class Question:
    text: str
    file_name: str
    page: int
    answer: str


@dataclass
class Item:
    """One thing to lay out: a heading, a paragraph (one or two columns) or a table."""

    kind: str  # heading | para | twocol | table | pagebreak | fill
    text: str = ""
    lead: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    ruled: bool = True
    repeat_header: bool = True
    keep_rows: int = 0  # a table split after this many rows (0: wherever it falls)
    lead_alone: bool = False  # its lead-in ends a page, the table starts the next one
    marks: list[tuple[str, str]] = field(default_factory=list)  # (answer, question) found here


@dataclass
class Report:
    company: str
    year: int
    file_name: str
    title: str
    items: list[Item]
    pages: list[list[str]] = field(default_factory=list)  # text drawn on each page


def _money(rng: random.Random, low: int, high: int) -> str:
    return f"{rng.randint(low, high):,}"


def build_hard_library(seed: int = 11) -> tuple[list[Report], list[tuple[Report, Item, str, str]]]:
    """Reports and their (report, item, answer, question) marks; pages are known after
    rendering (`render_hard_pdf` records where each answer was drawn)."""
    rng = random.Random(seed)
    reports: list[Report] = []
    marks: list[tuple[Report, Item, str, str]] = []
    carry: dict[tuple[str, str, str], str] = {}  # last year's figures, shown again as comparatives
    for company, unit, segments in COMPANIES:
        for year in YEARS:
            title = f"{company} Annual Report on Form 10-K for Fiscal {year}"
            name = f"{company.split()[0].lower()}-10k-fy{year}.pdf"
            report = Report(company, year, name, title, [])
            items = report.items
            items.append(Item("heading", f"{company} - Fiscal {year} Annual Report"))
            items.append(Item("para", PROSE * 2))
            # Two-column business overview with facts in prose.
            employees = _money(rng, 12000, 98000)
            customers = _money(rng, 1200, 9800)
            overview = Item(
                "twocol",
                (
                    f"Business overview. {company} operates {unit} through its "
                    f"{segments[0].lower()} and {segments[1].lower()}. " + PROSE * 2 + "At the end "
                    f"of fiscal {year} the company employed {employees} full-time associates "
                    "across all of its operations. " + RISK * 2 + "During the year the company "
                    f"served {customers} thousand loyalty members in its programs. " + PROSE * 2
                ),
            )
            overview.marks = [
                (
                    employees,
                    f"How many full-time associates did {company} employ at the end of fiscal "
                    f"{year}?",
                ),
                (
                    customers,
                    f"How many thousand loyalty members did {company} serve in fiscal {year}?",
                ),
            ]
            items.append(overview)
            # Store counts: the lead-in table (rows make sense only with the lead-in).
            rows = []
            for seg in segments:
                begin = _money(rng, 300, 2400)
                end = _money(rng, 300, 2400)
                rows.append((seg, begin, end))
            for n, (seg, begin, end) in enumerate(rows):
                # The lead-in ends a long paragraph (as in an MD&A): the rows alone say
                # neither the segment nor what is counted.
                lead = (
                    PROSE
                    + RISK
                    + f"{seg} {unit} open at the beginning and end of the second quarters of "
                    f"fiscal {year} and fiscal {year - 1} were as follows:"
                )
                prev_b = carry.get((company, seg, "begin"), _money(rng, 300, 2400))
                prev_e = carry.get((company, seg, "end"), _money(rng, 300, 2400))
                table = Item(
                    "table",
                    lead=lead,
                    header=["", f"Fiscal {year}", f"Fiscal {year - 1}"],
                    rows=[["Beginning of period", begin, prev_b], ["End of period", end, prev_e]],
                    ruled=n == 0,
                    lead_alone=n == 1,
                )
                table.marks = [
                    (
                        end,
                        f"How many {seg.lower()} {unit} were open at the end of the second "
                        f"quarter of fiscal {year} at {company}?",
                    )
                ]
                carry[(company, seg, "begin")] = begin
                carry[(company, seg, "end")] = end
                if n == 1:
                    items.append(Item("fill", PROSE))  # pushes the lead-in to a page end
                items.append(Item("para", PROSE + RISK))
                items.append(table)
            items.append(Item("pagebreak"))
            # Long statements, split by page breaks after a few rows.
            for s, (heading, lead, labels) in enumerate(STATEMENTS):
                items.append(Item("heading", heading))
                items.append(Item("para", PROSE))
                body = []
                for label in labels:
                    cur = _money(rng, 100, 99000)
                    prev = carry.get((company, heading, label), _money(rng, 100, 99000))
                    carry[(company, heading, label)] = cur
                    body.append([label, cur, prev])
                table = Item(
                    "table",
                    lead=lead,
                    header=["", f"Fiscal {year}", f"Fiscal {year - 1}"],
                    rows=body,
                    ruled=s != 1,
                    repeat_header=s == 0,
                    keep_rows=3 + s,
                )
                picks = rng.sample(range(len(labels)), 4)
                table.marks = [
                    (
                        body[i][1],
                        f"What was {company}'s {labels[i].lower()} in fiscal {year} "
                        f"({heading.lower()})?",
                    )
                    for i in picks
                ]
                items.append(Item("fill", PROSE))
                items.append(table)
            items.append(Item("heading", "Risk factors"))
            items.append(Item("twocol", RISK * 6))
            reports.append(report)
            for item in items:
                for answer, question in item.marks:
                    marks.append((report, item, answer, question))
    return reports, marks


# Layout constants (US letter, points).
TOP, BOTTOM, LEFT, RIGHT = 730, 70, 60, 552
LINE = 13


def occurrences(answer: str, text: str) -> int:
    """How often a figure occurs as a whole number (1,234 is not in 11,234 or 1,234.5)."""
    return len(re.findall(rf"(?<![\d,.]){re.escape(answer)}(?![\d]|[,.]\d)", text))


def _wrap(text: str, width: int) -> list[str]:
    words = text.split()
    lines: list[str] = []
    cur = ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    if cur:
        lines.append(cur)
    return lines


def render_hard_pdf(report: Report) -> tuple[bytes, list[Question]]:
    """Draw the report; returns the PDF and the questions with the pages their answers
    were drawn on."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=letter)
    pdf.setTitle(report.title)
    page = 1
    y = float(TOP)
    drawn: list[str] = []
    found: dict[str, int] = {}
    report.pages = []

    def text(x: float, yy: float, s: str, bold: bool = False, right: bool = False) -> None:
        pdf.setFont("Helvetica-Bold" if bold else "Helvetica", 9)
        (pdf.drawRightString if right else pdf.drawString)(x, yy, s)
        drawn.append(s)

    def furniture() -> None:
        pdf.setFont("Helvetica", 8)
        pdf.drawString(LEFT, 760, f"{report.company}  |  Form 10-K  |  Fiscal {report.year}")
        pdf.drawRightString(RIGHT, 40, f"Page {page}")
        pdf.drawString(LEFT, 40, f"{report.company} Annual Report {report.year}")

    def new_page() -> None:
        nonlocal page, y
        report.pages.append(list(drawn))
        drawn.clear()
        pdf.showPage()
        page += 1
        y = float(TOP)
        furniture()

    def need(h: float) -> None:
        if y - h < BOTTOM:
            new_page()

    def mark(item: Item, s: str) -> None:
        for answer, _ in item.marks:
            if occurrences(answer, s) and answer not in found:
                found[answer] = page

    cols = [LEFT + 260, LEFT + 370]

    def grid(yy: float) -> None:
        top = yy + LINE - 4
        pdf.line(LEFT, top, RIGHT, top)
        pdf.line(LEFT, yy - 4, RIGHT, yy - 4)
        for x in (LEFT, cols[0] - 10, cols[1] - 10, RIGHT):
            pdf.line(x, top, x, yy - 4)

    def header(item: Item) -> None:
        nonlocal y
        for h, x in zip(item.header[1:], cols, strict=True):
            text(x + 90, y, h, bold=True, right=True)
        if item.ruled:
            grid(y)
        y -= LINE

    furniture()
    for item in report.items:
        if item.kind == "pagebreak":
            new_page()
        elif item.kind == "heading":
            need(LINE * 3)
            y -= LINE / 2
            pdf.setFont("Helvetica-Bold", 12)
            pdf.drawString(LEFT, y, item.text)
            drawn.append(item.text)
            y -= LINE * 1.5
        elif item.kind == "para":
            for ln in _wrap(item.text, 100):
                need(LINE)
                text(LEFT, y, ln)
                mark(item, ln)
                y -= LINE
            y -= LINE / 2
        elif item.kind == "fill":
            # Filler until a few lines are left on the page: the next table is cut there.
            nxt = report.items[report.items.index(item) + 1]
            room = 3 if nxt.lead_alone else 4 + nxt.keep_rows
            words = item.text.split() * 20
            while y - LINE * (room + 1) >= BOTTOM:
                ln = " ".join(words[:16])
                words = words[16:] or item.text.split() * 20
                text(LEFT, y, ln)
                y -= LINE
            y -= LINE / 2
        elif item.kind == "twocol":
            lines = _wrap(item.text, 48)
            half = (len(lines) + 1) // 2
            left, right = lines[:half], lines[half:]
            i = 0
            while i < half:
                rows_here = max(1, int((y - BOTTOM) // LINE))
                block_l = left[i : i + rows_here]
                block_r = right[i : i + rows_here]
                for r in range(len(block_l)):  # row by row: left, then right
                    text(LEFT, y - r * LINE, block_l[r])
                    mark(item, block_l[r])
                    if r < len(block_r):
                        text(LEFT + 255, y - r * LINE, block_r[r])
                        mark(item, block_r[r])
                i += rows_here
                y -= LINE * len(block_l)
                if i < half:
                    new_page()
            y -= LINE / 2
        elif item.kind == "table":
            lead = _wrap(item.lead, 100)
            need(LINE * (len(lead) + (0 if item.lead_alone else 3)))
            for ln in lead:
                text(LEFT, y, ln)
                y -= LINE
            if item.lead_alone:
                new_page()
            header(item)
            for n, row in enumerate(item.rows):
                if (item.keep_rows and n == item.keep_rows) or y - LINE < BOTTOM:
                    new_page()
                    if item.repeat_header:
                        header(item)
                text(LEFT, y, row[0])
                for v, x in zip(row[1:], cols, strict=True):
                    text(x + 90, y, v, right=True)
                    mark(item, v)
                if item.ruled:
                    grid(y)
                y -= LINE
            y -= LINE
    report.pages.append(list(drawn))
    pdf.showPage()
    pdf.save()
    everything = " ".join(" ".join(p) for p in report.pages)
    questions = [
        Question(q, report.file_name, found[a], a)
        for item in report.items
        for a, q in item.marks
        if a in found and occurrences(a, everything) == 1  # once in the whole report
    ]
    return buf.getvalue(), questions
