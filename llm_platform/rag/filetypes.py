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


class ArchiveTooLarge(ValueError):
    """A ZIP-based file unpacks to more than the limits allow (a decompression bomb)."""


@dataclass(frozen=True)
class ZipBudget:
    """Limits on a ZIP-based upload (DOCX), over all its members together."""

    max_bytes: int  # unpacked size of all members (MAX_UNCOMPRESSED_MB)
    max_ratio: float  # unpacked / packed (MAX_COMPRESSION_RATIO)
    max_members: int = 10_000
    # Below this unpacked size the ratio is not held against a file (small parts of
    # repetitive XML pack 50:1 and more and harm nobody).
    ratio_floor: int = 16 * 1024 * 1024

    def check(self, unpacked: int, packed: int, members: int) -> None:
        mb = 1024 * 1024
        if members > self.max_members:
            raise ArchiveTooLarge(
                f"The document has {members:,} archive members (limit {self.max_members:,})"
            )
        if unpacked > self.max_bytes:
            raise ArchiveTooLarge(
                f"The document unpacks to more than {unpacked / mb:,.0f} MB "
                f"(limit {self.max_bytes / mb:,.0f} MB, MAX_UNCOMPRESSED_MB)"
            )
        ratio = unpacked / max(packed, 1)
        if unpacked > self.ratio_floor and ratio > self.max_ratio:
            raise ArchiveTooLarge(
                f"The document unpacks {ratio:,.0f} times its packed size "
                f"(limit {self.max_ratio:,.0f}, MAX_COMPRESSION_RATIO): a decompression bomb"
            )


def check_zip(archive: zipfile.ZipFile, budget: ZipBudget, *, real: bool = False) -> None:
    """Refuse an archive whose members, all together, unpack past the budget.

    The declared sizes are checked first (cheap: the central directory). With `real`, every
    member is then inflated block by block and counted, stopping at the limit, so a file
    that lies about its sizes is caught too (and every member's CRC is verified)."""
    infos = archive.infolist()
    packed = sum(i.compress_size for i in infos)
    budget.check(sum(i.file_size for i in infos), packed, len(infos))
    if not real:
        return
    total = 0
    for info in infos:
        with archive.open(info) as member:
            while block := member.read(1024 * 1024):
                total += len(block)
                if total > budget.max_bytes:
                    budget.check(total, packed, len(infos))
    budget.check(total, packed, len(infos))


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


def detect(
    head: bytes, path: Path, filename: str, zip_budget: ZipBudget | None = None
) -> DetectedType:
    """Detect the type from the first bytes (and, for ZIP containers, the archive members).

    `filename` only chooses between text flavours (markdown vs CSV), which share their bytes.
    A ZIP container is also held to `zip_budget` (declared sizes of all members): raises
    `ArchiveTooLarge`. Blocking (reads the archive directory): call it in a thread."""
    if head.startswith(b"%PDF-"):
        return DetectedType(FileKind.PDF, "application/pdf")
    if head.startswith(b"PK\x03\x04"):
        return _detect_zip(path, zip_budget)
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


def _detect_zip(path: Path, budget: ZipBudget | None) -> DetectedType:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if budget is not None:
                check_zip(archive, budget)
    except (zipfile.BadZipFile, OSError):
        raise UnsupportedType("Corrupt ZIP container: not a valid DOCX document") from None
    if "word/document.xml" in names and "[Content_Types].xml" in names:
        return DetectedType(
            FileKind.DOCX,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        )
    raise UnsupportedType("ZIP archive that is not a DOCX document: archives are not accepted")


_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f/\\:*?\"<>|\u2028\u2029]+")
# Direction controls (a right-to-left override makes `invoice\u202efdp.exe` show as
# `invoiceexe.pdf`) and invisible marks: removed from names.
_INVISIBLE = re.compile("[\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c\ufeff]")


def sanitize_filename(raw: str | None, *, default: str = "upload") -> str:
    """A display name with no directory part, no control characters and no traversal.

    The name is only ever shown: blobs are stored under generated ids."""
    name = unquote(raw or "")  # %2e%2e%2f arrives percent-encoded from some clients
    name = unicodedata.normalize("NFC", name).replace("\\", "/")
    name = name.split("/")[-1]
    name = _INVISIBLE.sub("", name)
    name = _UNSAFE.sub("_", name).strip(" .")
    name = re.sub(r"\.{2,}", ".", name)
    if not name:
        name = default
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 16 else name[:200]
    return name
