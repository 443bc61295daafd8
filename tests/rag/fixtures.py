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

from tests.system import SYSTEM_PACKAGES, require_system


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
