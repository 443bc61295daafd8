from __future__ import annotations

from pathlib import Path

import pytest

from llm_platform.rag.filetypes import FileKind, UnsupportedType, detect, sanitize_filename
from tests.support.documents import make_docx, make_pdf, make_png, make_zip_not_docx


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../x", "x"),
        ("../../etc/passwd", "passwd"),
        ("%2e%2e%2f%2e%2e%2fsecret.txt", "secret.txt"),
        ("/etc/shadow", "shadow"),
        ("C:\\Windows\\system32\\cmd.exe", "cmd.exe"),
        ("rep\x00ort.pdf", "rep_ort.pdf"),
        ("a\nb\rc.txt", "a_b_c.txt"),
        ("..", "upload"),
        ("", "upload"),
        (None, "upload"),
        ("notes..md", "notes.md"),
        ("Årsrapport 2023.pdf", "Årsrapport 2023.pdf"),
    ],
)
def test_sanitize_filename(raw: str | None, expected: str) -> None:
    assert sanitize_filename(raw) == expected


def test_sanitize_keeps_extension_of_long_names() -> None:
    name = sanitize_filename("x" * 500 + ".pdf")
    assert len(name) <= 200 and name.endswith(".pdf")


def _detect(tmp_path: Path, data: bytes, name: str = "f.bin") -> FileKind:
    path = tmp_path / "blob"
    path.write_bytes(data)
    return detect(data[:8192], path, name).kind


def test_detect_from_bytes_not_name(tmp_path: Path) -> None:
    assert _detect(tmp_path, make_pdf(["hello"]), "photo.jpg") is FileKind.PDF
    assert _detect(tmp_path, make_png(["hi"]), "doc.pdf") is FileKind.IMAGE
    assert _detect(tmp_path, make_docx(["p"], [["a", "b"]]), "x.txt") is FileKind.DOCX
    assert _detect(tmp_path, b"<html><body><p>x</p></body></html>") is FileKind.HTML
    assert _detect(tmp_path, "plain ünïcode text\n".encode()) is FileKind.TEXT
    assert _detect(tmp_path, b"RIFF\x00\x00\x00\x00WAVEfmt ") is FileKind.AUDIO


def test_zip_renamed_docx_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedType, match="not a DOCX"):
        _detect(tmp_path, make_zip_not_docx(), "report.docx")


def test_binary_garbage_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedType):
        _detect(tmp_path, bytes(range(256)) * 4, "x.txt")
