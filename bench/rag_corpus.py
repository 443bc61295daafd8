"""A generated library of long multi-table reports: several issuers x several periods with the
same tables (so the wrong document is a near miss), and questions with page-level gold."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field

ISSUERS = [
    ("Northwind Energy", ["Grid services", "Wind generation", "Solar farms", "Storage"]),
    ("Contoso Pharma", ["Oncology", "Vaccines", "Generics", "Consumer health"]),
    ("Fabrikam Steel", ["Flat products", "Long products", "Tubes", "Recycling"]),
    ("Tailspin Airlines", ["Passenger", "Cargo", "Loyalty", "Maintenance"]),
    ("Litware Software", ["Cloud", "Licenses", "Support", "Consulting"]),
    ("Adventure Foods", ["Snacks", "Beverages", "Dairy", "Frozen"]),
]
PERIODS = ["Q1 2023", "Q2 2023", "Q3 2023", "Q4 2023"]
REGIONS = ["Europe", "North America", "Asia Pacific", "Latin America", "Middle East"]

# (section heading, row labels) — every report has every table, on its own page.
TABLES = [
    (
        "Consolidated income statement",
        [
            "Revenue",
            "Cost of sales",
            "Gross profit",
            "Operating expenses",
            "Operating profit",
            "Net finance costs",
            "Profit before tax",
            "Income tax",
            "Net profit",
        ],
    ),
    (
        "Balance sheet",
        [
            "Cash and equivalents",
            "Trade receivables",
            "Inventories",
            "Property, plant and equipment",
            "Total assets",
            "Trade payables",
            "Borrowings",
            "Total equity",
        ],
    ),
    (
        "Cash flow statement",
        [
            "Operating cash flow",
            "Capital expenditure",
            "Free cash flow",
            "Dividends paid",
            "Share buybacks",
            "Net change in cash",
        ],
    ),
    ("Revenue by region", REGIONS),
    (
        "Operating expenses by nature",
        [
            "Staff costs",
            "Depreciation",
            "Marketing",
            "Research and development",
            "IT and software",
            "Travel",
        ],
    ),
    (
        "Employee headcount",
        ["Production staff", "Sales staff", "Engineers", "Administration", "Total employees"],
    ),
    (
        "Debt maturity schedule",
        [
            "Due within one year",
            "Due in one to two years",
            "Due in two to five years",
            "Due after five years",
        ],
    ),
    (
        "Share data",
        [
            "Basic earnings per share",
            "Diluted earnings per share",
            "Dividend per share",
            "Shares outstanding (millions)",
        ],
    ),
    (
        "Environmental metrics",
        [
            "Scope 1 emissions (kt CO2e)",
            "Scope 2 emissions (kt CO2e)",
            "Water withdrawal (megalitres)",
            "Waste recycled (%)",
            "Renewable electricity (%)",
        ],
    ),
    (
        "Order backlog",
        ["Backlog at start of period", "New orders", "Deliveries", "Backlog at end of period"],
    ),
    (
        "Capital expenditure by project",
        ["Plant upgrades", "Digital systems", "New facilities", "Maintenance capex"],
    ),
    (
        "Tax reconciliation",
        [
            "Statutory tax rate (%)",
            "Non-deductible expenses",
            "Tax credits",
            "Effective tax rate (%)",
        ],
    ),
]
PROSE = [
    "Management continued to focus on disciplined capital allocation and cost control. "
    "Demand conditions varied across markets, and the group adjusted pricing where needed. ",
    "The board reviewed the principal risks, including supply chain disruption, currency "
    "movements and regulatory change, and considers the mitigations adequate. ",
    "The figures below are unaudited and prepared on the same basis as the previous period. "
    "Comparative amounts have been restated where required by new accounting standards. ",
]
QUESTION_FORMS = [
    "What was {issuer}'s {row} in {period}?",
    "According to the reports, can you tell me the {row} of {issuer} for {period}?",
    "In the {period} report of {issuer}, what is the figure for {row}?",
    "Please find {row} for {issuer}, {period}.",
    "How much was {row} at {issuer} in {period}?",
]


@dataclass
class Report:
    issuer: str
    period: str
    file_name: str
    title: str
    pages: list[str]
    table_pages: dict[str, int] = field(default_factory=dict)  # section -> page (1-based)


@dataclass(frozen=True)
class Question:
    text: str
    file_name: str
    page: int
    answer: str


def _row(label: str, rng: random.Random) -> tuple[str, str]:
    cur = rng.uniform(50, 5000)
    prev = cur * rng.uniform(0.8, 1.2)
    change = (cur - prev) / prev * 100
    return (f"{label:<34}{cur:>12,.1f}{prev:>12,.1f}{change:>+9.1f}%", f"{cur:,.1f}")


def build_library(seed: int = 7, pages_per_report: int = 22) -> tuple[list[Report], list[Question]]:
    rng = random.Random(seed)
    reports: list[Report] = []
    answers: dict[tuple[str, str, str, str], tuple[int, str]] = {}
    for issuer, segments in ISSUERS:
        for period in PERIODS:
            title = f"{issuer} {period} Interim Report"
            prev_period = period[:3] + str(int(period[3:]) - 1)
            tables = [*TABLES, ("Revenue by segment", segments)]
            order = list(range(len(tables)))
            rng.shuffle(order)  # tables sit on different pages in each report
            pages = [f"{title}\n\nPrepared for shareholders of {issuer}.\n" + PROSE[0] * 3]
            report = Report(
                issuer,
                period,
                f"{issuer.split()[0].lower()}-{period.replace(' ', '-').lower()}.pdf",
                title,
                pages,
            )
            for idx in order:
                section, rows = tables[idx]
                lines = [
                    section,
                    PROSE[rng.randrange(len(PROSE))] * 2,
                    "",
                    f"Table {len(pages)}: {section} (EUR million)",
                    f"{'Item':<34}{period:>12}{prev_period:>12}{'Change':>10}",
                ]
                for label in rows:
                    line, value = _row(label, rng)
                    lines.append(line)
                    answers[(issuer, period, section, label)] = (len(pages) + 1, value)
                pages.append("\n".join(lines))
                report.table_pages[section] = len(pages)
            while len(pages) < pages_per_report:
                pages.append("Management commentary\n" + PROSE[len(pages) % 3] * 6)
            reports.append(report)
    by_key = {(r.issuer, r.period): r for r in reports}
    questions: list[Question] = []
    keys = sorted(answers)
    rng.shuffle(keys)
    for n, (issuer, period, section, label) in enumerate(keys[:60]):
        page, value = answers[(issuer, period, section, label)]
        form = QUESTION_FORMS[n % len(QUESTION_FORMS)]
        row = f"{label.lower()} ({section.lower()})"
        text = form.format(issuer=issuer, period=period, row=row)
        questions.append(Question(text, by_key[(issuer, period)].file_name, page, value))
    return reports, questions


def render_pdf(report: Report, with_metadata: bool = True) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    if with_metadata:  # half the library has no document title metadata (found on page 1)
        pdf.setTitle(report.title)
    for number, text in enumerate(report.pages, start=1):
        pdf.setFont("Courier", 9)
        y = 800
        for para in text.split("\n"):
            # wrap prose at ~95 characters
            while para:
                line, para = para[:95], para[95:]
                if para and " " in line and not para.startswith(" "):
                    cut = line.rfind(" ")
                    line, para = line[:cut], line[cut + 1 :] + para
                pdf.drawString(40, y, line)
                y -= 12
            if not text:
                y -= 12
        pdf.drawString(500, 30, f"Page {number}")
        pdf.showPage()
    pdf.save()
    return buf.getvalue()
