"""Real extractors on generated files (pypdfium2, python-docx, Tesseract, faster-whisper)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from llm_platform.rag.extract import ExtractionError, Limits, extract
from llm_platform.rag.extract import ocr as ocr_module
from llm_platform.rag.extract.audio import audio_available
from llm_platform.rag.extract.base import BlockKind
from llm_platform.rag.filetypes import FileKind
from tests.support.documents import (
    REPORT_PAGES,
    make_broken_docx,
    make_docx,
    make_pdf,
    make_png,
    make_png_header,
    make_scanned_pdf,
    make_wav,
)
from tests.support.system import needs_system

LIMITS = Limits(
    max_pages=50,
    max_chars=1_000_000,
    max_image_pixels=40_000_000,
    max_audio_seconds=600,
    ocr=True,
    audio=True,
)
needs_ocr = needs_system("tesseract")


def _write(tmp_path: Path, data: bytes, name: str = "f") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_pdf_pages_title_and_tables(tmp_path: Path) -> None:
    path = _write(tmp_path, make_pdf(REPORT_PAGES, title="Acme Robotics Annual Report 2023"))
    seen: list[float] = []
    doc = extract(path, FileKind.PDF, "application/pdf", LIMITS, seen.append)
    assert doc.page_count == 3 and doc.title == "Acme Robotics Annual Report 2023"
    assert seen[-1] == 1.0
    pages = {b.page for b in doc.blocks}
    assert pages == {1, 2, 3}
    table = next(b for b in doc.blocks if b.kind is BlockKind.TABLE)
    assert table.page == 2 and "Revenue" in table.text and "1,204" in table.text
    assert any("Lyon" in b.text and b.page == 3 for b in doc.blocks)


def test_pdf_page_cap(tmp_path: Path) -> None:
    path = _write(tmp_path, make_pdf([f"page {i}" for i in range(6)]))
    limits = Limits(5, 1_000_000, 1_000_000, 60, True, True)
    with pytest.raises(ExtractionError, match="6 pages; the limit is 5"):
        extract(path, FileKind.PDF, "application/pdf", limits)


def test_pdf_char_cap(tmp_path: Path) -> None:
    path = _write(tmp_path, make_pdf(["x" * 90 + "\n" + "y" * 90] * 10))
    limits = Limits(50, 1000, 1_000_000, 60, True, True)
    with pytest.raises(ExtractionError, match="MAX_EXTRACTED_CHARS"):
        extract(path, FileKind.PDF, "application/pdf", limits)


def test_encrypted_and_corrupt_pdf(tmp_path: Path) -> None:
    enc = _write(tmp_path, make_pdf(["secret"], encrypt="hunter2"), "enc.pdf")
    with pytest.raises(ExtractionError, match="encrypted"):
        extract(enc, FileKind.PDF, "application/pdf", LIMITS)
    broken = _write(tmp_path, b"%PDF-1.7\n" + b"\x00garbage" * 100, "bad.pdf")
    with pytest.raises(ExtractionError, match="Corrupt"):
        extract(broken, FileKind.PDF, "application/pdf", LIMITS)


@needs_ocr
def test_scanned_pdf_page_goes_to_ocr(tmp_path: Path) -> None:
    path = _write(tmp_path, make_scanned_pdf(["Invoice number 4821", "Total due 930 euros"]))
    doc = extract(path, FileKind.PDF, "application/pdf", LIMITS)
    assert doc.ocr_pages == 1
    text = " ".join(b.text for b in doc.blocks)
    assert "4821" in text and "euros" in text.lower()


def test_docx_paragraphs_and_table(tmp_path: Path) -> None:
    data = make_docx(
        ["Sales rose in every region."],
        [["Region", "Units"], ["North", "1,200"], ["South", "950"]],
        heading="Quarterly sales",
    )
    doc = extract(_write(tmp_path, data), FileKind.DOCX, "application/docx", LIMITS)
    table = next(b for b in doc.blocks if b.kind is BlockKind.TABLE)
    assert table.text.split("\n") == ["Region | Units", "North | 1,200", "South | 950"]
    assert table.header == "Region | Units" and table.heading == "Quarterly sales"
    assert any("Sales rose" in b.text for b in doc.blocks)


def test_broken_docx_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="Not a valid DOCX"):
        extract(_write(tmp_path, make_broken_docx()), FileKind.DOCX, "x", LIMITS)


def test_html_drops_scripts_and_styles(tmp_path: Path) -> None:
    html = (
        b"<html><head><title>Guide</title><style>p{color:red}</style></head><body>"
        b"<h1>Setup</h1><p>Install the package.</p><script>alert('x')</script>"
        b"<table><tr><td>a</td><td>b</td></tr></table></body></html>"
    )
    doc = extract(_write(tmp_path, html), FileKind.HTML, "text/html", LIMITS)
    text = "\n".join(b.text for b in doc.blocks)
    assert "Install the package." in text and "alert" not in text and "color" not in text
    assert doc.title == "Guide" and doc.blocks[0].heading == "Setup"


def test_csv_is_one_table(tmp_path: Path) -> None:
    doc = extract(
        _write(tmp_path, b"name,qty\napple,3\npear,5\n"), FileKind.TEXT, "text/csv", LIMITS
    )
    assert len(doc.blocks) == 1 and doc.blocks[0].kind is BlockKind.TABLE
    assert doc.blocks[0].header == "name,qty"


@needs_ocr
def test_png_ocr(tmp_path: Path) -> None:
    data = make_png(["Quarterly revenue grew", "Invoice total 4821"])
    doc = extract(_write(tmp_path, data), FileKind.IMAGE, "image/png", LIMITS)
    text = " ".join(b.text for b in doc.blocks)
    assert "Quarterly revenue grew" in text and "4821" in text


def test_image_bomb_refused_before_decoding(tmp_path: Path) -> None:
    path = _write(tmp_path, make_png_header(20_000, 20_000))
    with pytest.raises(ExtractionError, match=r"Image too large.*MAX_IMAGE_PIXELS"):
        extract(path, FileKind.IMAGE, "image/png", LIMITS)
    # Below Pillow's own guard but over ours: refused from the header, with the size.
    path = _write(tmp_path, make_png_header(8_000, 8_000), "mid.png")
    with pytest.raises(ExtractionError, match="8000x8000"):
        extract(path, FileKind.IMAGE, "image/png", LIMITS)


@pytest.mark.parametrize("ocr", ["off", "not installed"])
def test_image_bomb_refused_without_ocr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ocr: str
) -> None:
    """The size guard holds on a machine without Tesseract (it used to answer "OCR is not
    available" before looking at the size); a normal image then names the missing OCR."""
    limits = dataclasses.replace(LIMITS, ocr=ocr != "off")
    if ocr == "not installed":
        monkeypatch.setattr(ocr_module, "ocr_available", lambda: False)
    for width, height in ((20_000, 20_000), (8_000, 8_000)):
        path = _write(tmp_path, make_png_header(width, height), f"{width}.png")
        with pytest.raises(ExtractionError, match=r"Image too large.*MAX_IMAGE_PIXELS"):
            extract(path, FileKind.IMAGE, "image/png", limits)
    path = _write(tmp_path, make_png(["Quarterly revenue grew"]), "small.png")
    with pytest.raises(ExtractionError, match=r"OCR\) is not available.*tesseract-ocr"):
        extract(path, FileKind.IMAGE, "image/png", limits)


@pytest.mark.skipif(not audio_available(), reason="audio extra not installed")
def test_wav_transcription(tmp_path: Path) -> None:
    data = make_wav("The quarterly meeting moved to Tuesday morning.", tmp_path)
    doc = extract(_write(tmp_path, data, "a.wav"), FileKind.AUDIO, "audio/wav", LIMITS)
    text = " ".join(b.text for b in doc.blocks).lower()
    assert "meeting" in text and "tuesday" in text


def test_corrupt_audio_fails_cleanly(tmp_path: Path) -> None:
    if not audio_available():
        pytest.skip("audio extra not installed")
    path = _write(tmp_path, b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\x01" * 40, "bad.wav")
    with pytest.raises(ExtractionError):
        extract(path, FileKind.AUDIO, "audio/wav", LIMITS)


def test_placeholder_pdf_title_falls_back_to_first_line(tmp_path: Path) -> None:
    # reportlab, like many producers, writes "untitled" when no title is set.
    path = _write(tmp_path, make_pdf(["Bolt Industries Q2 2024 Report\nBody text here."]))
    doc = extract(path, FileKind.PDF, "application/pdf", LIMITS)
    assert doc.title == "Bolt Industries Q2 2024 Report"
