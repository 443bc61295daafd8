"""Test documents generated on the fly: PDF (reportlab), DOCX (python-docx), PNG with text,
WAV speech (Debian espeak-ng), and hostile inputs."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

from tests.support.system import SYSTEM_PACKAGES, require_system


def make_pdf(pages: list[str], *, title: str | None = None, encrypt: str | None = None) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, encrypt=encrypt)
    if title:
        pdf.setTitle(title)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            pdf.drawString(60, y, line)
            y -= 16
            if y < 60:
                break
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def make_scanned_pdf(text_lines: list[str]) -> bytes:
    """A PDF whose only page is an image of text (no text layer)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = make_text_image(text_lines)
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdf.drawImage(ImageReader(image), 40, 500, width=520, height=520 * image.height / image.width)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def make_text_image(lines: list[str]):  # type: ignore[no-untyped-def]
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=44)
    image = Image.new("L", (1500, 90 + 90 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((40, 40 + 90 * i), line, font=font, fill=0)
    return image


def make_png(lines: list[str]) -> bytes:
    buf = io.BytesIO()
    make_text_image(lines).save(buf, format="PNG")
    return buf.getvalue()


def make_docx(paragraphs: list[str], table: list[list[str]], heading: str = "Results") -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(heading, level=1)
    for p in paragraphs:
        document.add_paragraph(p)
    grid = document.add_table(rows=len(table), cols=len(table[0]))
    for r, row in enumerate(table):
        for c, value in enumerate(row):
            grid.cell(r, c).text = value
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def make_wav(sentence: str, tmp: Path) -> bytes:
    require_system(shutil.which("espeak-ng") is not None, SYSTEM_PACKAGES["espeak-ng"][1])
    out = tmp / "speech.wav"
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(out), sentence], check=True)
    return out.read_bytes()


def make_zip_not_docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("readme.txt", "just a zip")
    return buf.getvalue()


def make_broken_docx() -> bytes:
    """Looks like a DOCX from its members but the XML is garbage."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("[Content_Types].xml", "<not xml")
        archive.writestr("word/document.xml", "<garbage")
    return buf.getvalue()


def make_png_header(width: int, height: int) -> bytes:
    """A tiny PNG that claims huge dimensions (decompression-bomb shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


REPORT_PAGES = [
    "Acme Robotics Annual Report 2023\nChairman's letter\n"
    "This year we expanded our warehouse automation business across Europe.",
    "Financial highlights\nMetric            2023      2022\nRevenue           1,204     1,050\n"
    "Operating margin  14.2%     12.9%\nEmployees         3,410     3,020",
    "Sustainability\nOur factories in Lyon switched to renewable electricity in March.\n"
    "Water usage per unit fell by eight percent compared with last year.",
]


FILING_ROWS = [
    (f"Region {n:02d} stores", f"{1000 + n * 7:,}", f"{900 + n * 5:,}") for n in range(1, 31)
]


STATEMENT_ROWS = [  # (label, fiscal 2023, fiscal 2022); the first three end page 1
    ("Net sales", "70,658", "11,530"),
    ("Cost of sales", "67,735", "94,783"),
    ("Gross profit", "71,402", "17,127"),
    ("Selling, general and administrative expenses", "16,081", "59,545"),
    ("Restructuring charges", "12,318", "82,091"),
    ("Operating income", "21,959", "49,488"),
    ("Interest expense", "70,710", "74,655"),
    ("Net earnings", "16,741", "13,071"),
]


def make_statement_pdf() -> bytes:
    """Two pages: prose, then at the foot of page 1 a lead-in and a ruled statement table
    (header row "Fiscal 2023 | Fiscal 2022") with its first three rows; page 2 repeats the
    header row and goes on with the rest (Restructuring charges among them), then prose."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=letter)
    pdf.setTitle("Beacon Health Annual Report on Form 10-K for Fiscal 2023")
    left, right, line = 60, 552, 13
    cols = (360, 470)

    def row(y: float, cells: tuple[str, str, str]) -> None:
        pdf.drawString(left + 4, y, cells[0])
        for x, value in zip(cols, cells[1:], strict=True):
            pdf.drawRightString(x + 70, y, value)
        top, bottom = y + line - 4, y - 4
        pdf.line(left, top, right, top)
        pdf.line(left, bottom, right, bottom)
        for x in (left, cols[0] - 20, cols[1] - 20, right):
            pdf.line(x, top, x, bottom)

    prose = [
        "Management reviews the business each quarter against the plan approved by the board.",
        "Results reflect pricing actions, changes in volume and the mix of services sold.",
        "The company adjusts the number of its clinics to local demand every year.",
    ]
    header = ("", "Fiscal 2023", "Fiscal 2022")
    pdf.setFont("Helvetica-Bold", 13)
    pdf.drawString(left, 725, "Consolidated statements of operations")
    pdf.setFont("Helvetica", 9)
    y = 700.0
    for text in prose:
        pdf.drawString(left, y, text)
        y -= line
    y = 140.0  # the table starts at the foot of the page
    pdf.drawString(left, y, "The following table presents the consolidated results of operations")
    pdf.drawString(left, y - line, "for the fiscal years indicated (in millions):")
    y -= line * 2.5
    for cells in [header, *STATEMENT_ROWS[:3]]:
        row(y, cells)
        y -= line
    pdf.showPage()
    pdf.setFont("Helvetica", 9)
    y = 725.0
    for cells in [header, *STATEMENT_ROWS[3:]]:
        row(y, cells)
        y -= line
    y -= line
    for text in reversed(prose):
        pdf.drawString(left, y, text)
        y -= line
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def make_filing_pdf() -> bytes:
    """Three pages laid out like a filing, each with a running header and a footer with its
    page number. Page 1: a heading, prose, then a lead-in sentence and a ruled table whose
    rows run over the page break (page 2 goes on without a header row). Page 2: the last
    rows ("End of period"), prose, then a borderless table of figures under its lead-in.
    Page 3: two columns of prose drawn row by row, left and right lines interleaved (the
    drawing order is not the reading order). Left lines say L01..L20, right ones R01..R20."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=letter)
    pdf.setTitle("Acme Robotics Annual Report 2023")
    left, right, line = 60, 552, 13
    cols = (360, 470)

    def furniture(page: int) -> None:
        pdf.setFont("Helvetica", 8)
        pdf.drawString(left, 760, "Acme Robotics  |  Form 10-K  |  Fiscal 2023")
        pdf.drawString(left, 40, "Acme Robotics Annual Report 2023")
        pdf.drawRightString(right, 40, f"Page {page}")
        pdf.setFont("Helvetica", 9)

    def row(y: float, cells: tuple[str, str, str], ruled: bool) -> None:
        pdf.drawString(left + 4, y, cells[0])
        for x, value in zip(cols, cells[1:], strict=True):
            pdf.drawRightString(x + 70, y, value)
        if ruled:
            top, bottom = y + line - 4, y - 4
            pdf.line(left, top, right, top)
            pdf.line(left, bottom, right, bottom)
            for x in (left, cols[0] - 20, cols[1] - 20, right):
                pdf.line(x, top, x, bottom)

    prose = (
        "Management reviews the store network every quarter against the plan approved by "
        "the board of directors and adjusts openings to local demand."
    )
    furniture(1)
    pdf.setFont("Helvetica-Bold", 13)
    pdf.drawString(left, 725, "Store network")
    pdf.setFont("Helvetica", 9)
    y = 705.0
    for _ in range(8):
        pdf.drawString(left, y, prose[:95])
        pdf.drawString(left, y - line, prose[95:])
        y -= line * 2.6
    pdf.drawString(left, y, "Domestic segment stores open at the beginning and end of the second")
    pdf.drawString(left, y - line, "quarters of fiscal 2024 and fiscal 2023 were as follows:")
    y -= line * 2.5
    rows = [("", "Fiscal 2024", "Fiscal 2023"), ("Beginning of period", "1,010", "990")]
    rows += [*FILING_ROWS, ("End of period", "1,042", "1,010")]
    page = 1
    for cells in rows:
        if y < 80:
            pdf.showPage()
            page += 1
            furniture(page)
            y = 725.0
        row(y, cells, ruled=True)
        y -= line
    assert page == 2, "the table must run over the page break"
    y -= line
    pdf.drawString(left, y, prose[:95])
    y -= line * 2
    pdf.drawString(left, y, "Revenue by region for the fiscal year was as follows (in millions):")
    y -= line * 1.4
    for cells in [
        ("Region", "2023", "2022"),
        ("Europe", "1,204.5", "1,100.2"),
        ("North America", "2,310.8", "2,015.4"),
        ("Asia Pacific", "845.1", "790.0"),
    ]:
        row(y, cells, ruled=False)
        y -= line
    pdf.showPage()
    furniture(3)
    y = 725.0
    for n in range(1, 21):  # row by row: a left line, then the right line beside it
        pdf.drawString(left, y, f"L{n:02d} the left column tells how plants were built")
        pdf.drawString(320, y, f"R{n:02d} the right column tells how robots were sold")
        y -= line
    pdf.showPage()
    pdf.save()
    return buf.getvalue()
