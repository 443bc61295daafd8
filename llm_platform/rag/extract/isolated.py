"""Extraction in child processes with a memory ceiling: a hostile file fails that file.

Parsers of untrusted files (python-docx/lxml, pdfium, Pillow, tesseract) may be driven to
allocate gigabytes by a small file. Here they run in a pool of `spawn`ed processes whose
address space is capped with `RLIMIT_AS` (EXTRACT_MEMORY_MB): past the cap an allocation
fails in the child (MemoryError, or the child dies), the file is marked failed with a clear
message, and the server's own memory never moves.

The children import only the extractors (no embedding model, no torch, no database): they
start in about a second, once, and then serve every file. Audio is not sent to them: the
Whisper model is large, loaded once in the server, and its input is bounded by
MAX_AUDIO_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from llm_platform.rag.extract.base import ExtractedDocument, ExtractionError, Limits, ProgressFn
from llm_platform.rag.filetypes import FileKind, ZipBudget

# In the child: where progress reports go (set by the pool's initializer).
_progress_queue: Any = None


def _init_child(memory_bytes: int, progress: Any) -> None:
    import resource

    global _progress_queue
    _progress_queue = progress
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def _child_extract(
    task: int,
    path: str,
    kind: FileKind,
    media_type: str,
    limits: Limits,
    budget: ZipBudget | None,
    memory_mb: int,
) -> ExtractedDocument:
    from llm_platform.rag.extract import extract

    last = [-1.0]

    def report(fraction: float) -> None:
        if _progress_queue is not None and fraction - last[0] >= 0.01:
            last[0] = fraction
            _progress_queue.put((task, fraction))

    try:
        return extract(Path(path), kind, media_type, limits, report, zip_budget=budget)
    except MemoryError:
        raise ExtractionError(memory_message(memory_mb)) from None


def memory_message(memory_mb: int) -> str:
    return (
        f"The file needs more than {memory_mb} MB of memory to read "
        "(limit EXTRACT_MEMORY_MB); it may be malformed or hostile"
    )


class IsolatedExtractor:
    """A lazily started pool of extraction processes (one per concurrent ingestion)."""

    def __init__(self, memory_mb: int, workers: int, budget: ZipBudget | None) -> None:
        self.memory_mb = memory_mb
        self.workers = workers
        self.budget = budget
        self._ctx = multiprocessing.get_context("spawn")
        self._pool: ProcessPoolExecutor | None = None
        self._progress: Any = None
        self._listeners: dict[int, ProgressFn] = {}
        self._ids = itertools.count(1)
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                if self._progress is None:
                    self._progress = self._ctx.Queue()
                    self._reader = threading.Thread(
                        target=self._read_progress, name="extract-progress", daemon=True
                    )
                    self._reader.start()
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=self._ctx,
                    initializer=_init_child,
                    initargs=(self.memory_mb * 1024 * 1024, self._progress),
                )
            return self._pool

    def _reset(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    def _read_progress(self) -> None:
        while True:
            try:
                item = self._progress.get()
            except (EOFError, OSError, ValueError):
                return
            if item is None:
                return
            task, fraction = item
            listener = self._listeners.get(task)
            if listener is not None:
                with contextlib.suppress(Exception):
                    listener(fraction)

    async def extract(
        self,
        path: Path,
        kind: FileKind,
        media_type: str,
        limits: Limits,
        progress: ProgressFn | None = None,
    ) -> ExtractedDocument:
        """Extract in a child; a child that dies is replaced and the file tried once more
        alone (a neighbour's hostile file may have taken the pool down)."""
        task = next(self._ids)
        if progress is not None:
            self._listeners[task] = progress
        loop = asyncio.get_running_loop()
        try:
            for attempt in (1, 2):
                pool = self._ensure_pool()
                try:
                    return await loop.run_in_executor(
                        pool,
                        _child_extract,
                        task,
                        str(path),
                        kind,
                        media_type,
                        limits,
                        self.budget,
                        self.memory_mb,
                    )
                except BrokenProcessPool:
                    self._reset(pool)
                    if attempt == 2:
                        raise ExtractionError(memory_message(self.memory_mb)) from None
            raise AssertionError("unreachable")
        finally:
            self._listeners.pop(task, None)

    def close(self) -> None:
        """Stop the children, also one busy with a file (its job is handed back by the
        ingestion's own shutdown and runs again at the next start)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            children = list((pool._processes or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for child in children:
                child.join(timeout=5)
                if child.is_alive():
                    child.terminate()
                    child.join(timeout=5)
        if self._progress is not None:
            with contextlib.suppress(Exception):
                self._progress.put(None)
            if self._reader is not None:
                self._reader.join(timeout=5)
            self._progress.close()
            self._progress = None
