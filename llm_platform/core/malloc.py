"""glibc malloc tuning for a long-running server: fewer arenas, and free pages given back.

Measured with `bench/soak.py --probe` (bench/memory_probe.py): under mixed load the
server's resident memory grew ~25 MB a minute while the bytes its heap held in use grew
~3 MB; the rest was free space inside malloc's arenas, never returned to the system. glibc
gives each thread that allocates its own arena (up to 8 per core) — asyncio.to_thread's
pool, torch's and llama.cpp's threads, the SQLite writer — and frees inside an arena only
shrink it from its top. The standard mitigations, both here:

- `limit_arenas`: at most MALLOC_ARENA_MAX arenas (`mallopt(M_ARENA_MAX)`, what glibc's
  own MALLOC_ARENA_MAX variable does), so threads share them and reuse each other's holes;
- `MallocTrimmer`: `malloc_trim(0)` every MALLOC_TRIM_SECONDS, which hands the free pages
  inside every arena back to the system (a few ms; it runs on a worker thread).

Off glibc (musl, macOS, Windows) both do nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import sys
from functools import cache

from llm_platform.core.logging import get_logger

log = get_logger("llm_platform.malloc")

M_ARENA_MAX = -8  # <malloc.h>


@cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc
        return None
    return libc


def limit_arenas(count: int) -> bool:
    """Cap malloc's arenas for threads created from now on (0: glibc's default)."""
    libc = _glibc()
    if libc is None or count <= 0:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, count))


def trim() -> bool:
    """Return free heap pages to the system. True when memory was released."""
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))


class MallocTrimmer:
    """Trims the heap every `interval` seconds while the app runs (0: never)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.trims = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0 and _glibc() is not None and self._task is None:
            self._task = asyncio.create_task(self._run(), name="malloc-trim")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await asyncio.to_thread(trim)
                self.trims += 1
            except Exception as exc:  # never worth stopping the server for
                log.warning("malloc_trim_failed", error=str(exc))

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
