"""Decompression bombs in ZIP-based uploads, with the server's memory measured.

The bomb is a member other than the document body (a 1 GiB `word/styles.xml`, an XLSX
`xl/sharedStrings.xml`): the budget sums every member. Past the budget the upload is
refused (413); a file that passes it but still needs too much memory to parse fails alone,
in its extraction process, and the server's resident memory stays where it was.
"""

from __future__ import annotations

import io
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from llm_platform.rag.extract import ExtractionError, extract
from llm_platform.rag.extract.base import Limits
from llm_platform.rag.filetypes import ArchiveTooLarge, FileKind, ZipBudget, check_zip
from tests.conftest import AppClient, app_client
from tests.support.documents import make_docx
from tests.support.errors import assert_error
from tests.support.files import upload, wait_done
from tests.support.settings import sqlite_settings

GIB = 1024**3
MIB = 1024**2
LIMITS = Limits(
    max_pages=100,
    max_chars=1_000_000,
    max_image_pixels=10_000_000,
    max_audio_seconds=60,
    ocr=False,
    audio=False,
)


def _bomb(base: bytes, member: str, size: int) -> bytes:
    """`base` (a ZIP) with `member` replaced by `size` bytes of well-formed, padded XML."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != member:
                dst.writestr(info, src.read(info.filename), zipfile.ZIP_DEFLATED)
        head = (
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        )
        tail = b"</w:styles>"
        block = b" " * MIB
        info = zipfile.ZipInfo(member)
        info.compress_type = zipfile.ZIP_DEFLATED
        with dst.open(info, "w", force_zip64=True) as f:
            f.write(head)
            left = size - len(head) - len(tail)
            while left > 0:
                f.write(block[: min(left, MIB)])
                left -= MIB
            f.write(tail)
    return out.getvalue()


def _xlsx(size: int) -> bytes:
    base = io.BytesIO()
    with zipfile.ZipFile(base, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/sharedStrings.xml", "<sst/>")
    return _bomb(base.getvalue(), "xl/sharedStrings.xml", size)


@pytest.fixture(scope="module")
def docx_bomb() -> bytes:
    """A 1 GiB word/styles.xml in a ~1 MB DOCX (the issue's example)."""
    return _bomb(make_docx(["Hello."], [["a", "b"]]), "word/styles.xml", GIB)


@pytest.fixture(scope="module")
def xlsx_bomb() -> bytes:
    return _xlsx(512 * MIB)


def _rss(pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class MemoryWatch:
    """Samples this process's RSS (and any extra pids') every few milliseconds."""

    def __init__(self, children: Callable[[], list[int]] = list) -> None:
        self.baseline = _rss()
        self.peak = self.baseline
        self.child_peak = 0
        self._children = children
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            for pid in self._children():
                self.child_peak = max(self.child_peak, _rss(pid))
            time.sleep(0.005)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


@contextmanager
def watch(children: Callable[[], list[int]] = list) -> Iterator[MemoryWatch]:
    w = MemoryWatch(children)
    thread = threading.Thread(target=w._run, daemon=True)
    thread.start()
    try:
        yield w
    finally:
        w._stop.set()
        thread.join()


def _pool_pids(client: AppClient) -> Callable[[], list[int]]:
    def pids() -> list[int]:
        isolated = client.app.state.platform.rag.runtime.isolated
        pool = isolated._pool if isolated is not None else None
        return list((pool._processes or {}).keys()) if pool is not None else []

    return pids


def test_bombs_are_small_on_disk(docx_bomb: bytes, xlsx_bomb: bytes) -> None:
    assert len(docx_bomb) < 3 * MIB and len(xlsx_bomb) < 3 * MIB


async def test_docx_bomb_in_styles_is_refused_at_upload(
    client: AppClient, docx_bomb: bytes
) -> None:
    with watch() as mem:
        r = await upload(client, "report.docx", docx_bomb)
    body = assert_error(r, 413, "payload_too_large")
    assert "MAX_UNCOMPRESSED_MB" in body["detail"], body
    assert (await client.get("/api/v1/files", headers={"x-user-id": "u1"})).json()["items"] == []
    print(f"docx bomb upload: server RSS growth {mem.growth / MIB:.0f} MiB")
    assert mem.growth < 100 * MIB


async def test_xlsx_bomb_is_refused_at_upload(client: AppClient, xlsx_bomb: bytes) -> None:
    with watch() as mem:
        r = await upload(client, "sheet.xlsx", xlsx_bomb)
    assert_error(r, 413, "payload_too_large")
    print(f"xlsx bomb upload: server RSS growth {mem.growth / MIB:.0f} MiB")
    assert mem.growth < 100 * MIB


async def test_bomb_past_the_budget_fails_in_the_memory_capped_child(
    tmp_path: Path, docx_bomb: bytes
) -> None:
    """With the ZIP budget opened wide (or a file stored before it existed), the parser
    really inflates the 1 GiB part: in its child, capped at 512 MB, the file fails with a
    clear message; the server's RSS does not move and the next file is read fine."""
    settings = sqlite_settings(  # the database plays no part: SQLite only
        tmp_path,
        "bomb.db",
        MAX_UNCOMPRESSED_MB=4096,
        MAX_COMPRESSION_RATIO=100_000,
        EXTRACT_MEMORY_MB=512,
        TRUST_CLIENT_USER_ID=True,
        WARM_START=False,  # no model loading into the server while its memory is watched
    )
    async with app_client(settings) as client:
        with watch(_pool_pids(client)) as mem:
            r = await upload(client, "report.docx", docx_bomb)
            assert r.status_code == 201, r.text
            done = await wait_done(client, r.json()["id"])
        assert done["status"] == "failed", done
        assert "EXTRACT_MEMORY_MB" in done["error"], done
        print(
            f"docx bomb ingestion: server RSS growth {mem.growth / MIB:.0f} MiB, "
            f"extraction child peak RSS {mem.child_peak / MIB:.0f} MiB (cap 512 MB)"
        )
        assert mem.growth < 150 * MIB
        good = make_docx(["The harbour ledger lists twelve lanterns."], [["a", "b"], ["1", "2"]])
        r = await upload(client, "good.docx", good)
        done = await wait_done(client, r.json()["id"])
        assert done["status"] == "ready", done


def test_check_zip_sums_all_members_and_counts_real_bytes(tmp_path: Path) -> None:
    budget = ZipBudget(max_bytes=64 * MIB, max_ratio=100)
    # Ten 10 MiB members: each small, together past the budget.
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(10):
            z.writestr(f"part{i}.xml", os.urandom(1024) * (10 * 1024))
    with zipfile.ZipFile(path) as z, pytest.raises(ArchiveTooLarge, match="MAX_UNCOMPRESSED_MB"):
        check_zip(z, budget)
    # High ratio past the floor.
    path = tmp_path / "ratio.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.xml", b"\0" * (40 * MIB))
    with zipfile.ZipFile(path) as z, pytest.raises(ArchiveTooLarge, match="RATIO"):
        check_zip(z, budget, real=True)
    # A normal document passes, counted for real.
    (tmp_path / "ok.docx").write_bytes(make_docx(["Fine."], [["a"]]))
    with zipfile.ZipFile(tmp_path / "ok.docx") as z:
        check_zip(z, budget, real=True)


def test_extract_refuses_bomb_directly(tmp_path: Path) -> None:
    """The extractor itself (any caller, e.g. a re-ingestion) holds every member to the budget."""
    path = tmp_path / "b.docx"
    path.write_bytes(_bomb(make_docx(["x"], [["a"]]), "word/styles.xml", 300 * MIB))
    with pytest.raises(ExtractionError, match="MAX_UNCOMPRESSED_MB"):
        extract(path, FileKind.DOCX, "x", LIMITS, zip_budget=ZipBudget(256 * MIB, 100))


async def test_extraction_children_stay_lean_and_cheap(tmp_path: Path) -> None:
    """The children load the extractors only (no torch, no embedding model), start once,
    and then cost a small file milliseconds more than a thread would."""
    import asyncio

    from llm_platform.rag.extract.isolated import IsolatedExtractor

    path = tmp_path / "small.docx"
    path.write_bytes(make_docx(["A small file."], [["a", "b"]]))
    extractor = IsolatedExtractor(512, 1, ZipBudget(256 * MIB, 100))
    try:
        started = time.perf_counter()
        doc = await extractor.extract(path, FileKind.DOCX, "x", LIMITS)
        first = time.perf_counter() - started
        assert "A small file." in doc.blocks[0].text
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            await extractor.extract(path, FileKind.DOCX, "x", LIMITS)
            timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        await asyncio.to_thread(extract, path, FileKind.DOCX, "x", LIMITS)
        in_thread = time.perf_counter() - started
        pool = extractor._ensure_pool()
        loaded = pool.submit(eval, "sorted(__import__('sys').modules)").result(30)
    finally:
        extractor.close()
    print(
        f"small DOCX: first {first * 1000:.0f} ms (child start), then "
        f"{min(timings) * 1000:.1f}-{max(timings) * 1000:.1f} ms in a child vs "
        f"{in_thread * 1000:.1f} ms in a thread"
    )
    heavy = {"torch", "sentence_transformers", "llama_cpp", "sqlalchemy", "faster_whisper"}
    assert not heavy & set(loaded), heavy & set(loaded)
    assert "docx" in loaded
    assert min(timings) < 0.5
