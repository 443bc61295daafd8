"""What an upload is, told from its bytes (never from the client's header or extension),
and a safe display name for it."""

from __future__ import annotations

import re
import unicodedata
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote


class FileKind(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    TEXT = "text"
    HTML = "html"
    IMAGE = "image"
    AUDIO = "audio"


@dataclass(frozen=True)
class DetectedType:
    kind: FileKind
    media_type: str


class UnsupportedType(ValueError):
    """The bytes are not one of the accepted types; the message says what they look like."""


SNIFF_BYTES = 8192

_TEXT_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".json": "application/json",
}


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sniffed window is still text.
        if exc.start < len(head) - 4:
            return False
    return True


def _is_html(head: bytes) -> bool:
    start = head[:1024].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html")) or (
        start.startswith(b"<") and b"<body" in head[:4096].lower()
    )


def detect(head: bytes, path: Path, filename: str) -> DetectedType:
    """Detect the type from the first bytes (and, for ZIP containers, the archive members).

    `filename` only chooses between text flavours (markdown vs CSV), which share their bytes."""
    if head.startswith(b"%PDF-"):
        return DetectedType(FileKind.PDF, "application/pdf")
    if head.startswith(b"PK\x03\x04"):
        return _detect_zip(path)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return DetectedType(FileKind.IMAGE, "image/png")
    if head.startswith(b"\xff\xd8\xff"):
        return DetectedType(FileKind.IMAGE, "image/jpeg")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return DetectedType(FileKind.IMAGE, "image/gif")
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return DetectedType(FileKind.IMAGE, "image/tiff")
    if head.startswith(b"BM") and len(head) > 14:
        return DetectedType(FileKind.IMAGE, "image/bmp")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return DetectedType(FileKind.IMAGE, "image/webp")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return DetectedType(FileKind.AUDIO, "audio/wav")
    if head.startswith(b"OggS"):
        return DetectedType(FileKind.AUDIO, "audio/ogg")
    if head.startswith(b"fLaC"):
        return DetectedType(FileKind.AUDIO, "audio/flac")
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return DetectedType(FileKind.AUDIO, "audio/mpeg")
    if head[4:8] == b"ftyp" and head[8:12] in (b"M4A ", b"M4B ", b"mp42", b"isom", b"dash"):
        return DetectedType(FileKind.AUDIO, "audio/mp4")
    if _looks_like_text(head):
        if _is_html(head):
            return DetectedType(FileKind.HTML, "text/html")
        suffix = Path(filename).suffix.lower()
        return DetectedType(FileKind.TEXT, _TEXT_TYPES.get(suffix, "text/plain"))
    raise UnsupportedType(
        "Unsupported file type: accepted are PDF, DOCX, text (TXT, MD, CSV, HTML), "
        "images (PNG, JPEG, GIF, TIFF, BMP, WEBP) and audio (WAV, MP3, M4A, OGG, FLAC)"
    )


def _detect_zip(path: Path) -> DetectedType:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        raise UnsupportedType("Corrupt ZIP container: not a valid DOCX document") from None
    if "word/document.xml" in names and "[Content_Types].xml" in names:
        return DetectedType(
            FileKind.DOCX,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        )
    raise UnsupportedType("ZIP archive that is not a DOCX document: archives are not accepted")


_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def sanitize_filename(raw: str | None, *, default: str = "upload") -> str:
    """A display name with no directory part, no control characters and no traversal.

    The name is only ever shown: blobs are stored under generated ids."""
    name = unquote(raw or "")  # %2e%2e%2f arrives percent-encoded from some clients
    name = unicodedata.normalize("NFC", name).replace("\\", "/")
    name = name.split("/")[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    name = re.sub(r"\.{2,}", ".", name)
    if not name:
        name = default
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 16 else name[:200]
    return name
