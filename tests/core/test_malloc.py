"""glibc malloc tuning: trims hand fragmented free heap back to the system, periodically."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from llm_platform.core import malloc
from llm_platform.core.malloc import MallocTrimmer, limit_arenas, trim

needs_glibc = pytest.mark.skipif(malloc._glibc() is None, reason="glibc only")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@needs_glibc
def test_a_trim_returns_the_free_pages_a_thread_left_in_its_arena() -> None:
    """What the soak showed: a thread allocates a burst, frees most of it, keeps a few
    scattered blocks; the arena cannot shrink past them and the free pages stay resident
    until malloc_trim gives them back."""
    kept: list[bytes] = []

    def burst() -> None:
        blocks = [os.urandom(1) * 4000 for _ in range(25_000)]  # ~100 MB, past pymalloc
        kept.extend(blocks[::100])  # one block in a hundred survives, pinning its region

    trim()
    thread = threading.Thread(target=burst)
    thread.start()
    thread.join()
    before = rss_bytes()
    assert trim()
    after = rss_bytes()
    assert before - after > 50 * 2**20, (before, after)
    assert len(kept) == 250


@needs_glibc
def test_arenas_can_be_capped() -> None:
    assert limit_arenas(8)  # the test process keeps glibc's usual cap for itself
    assert not limit_arenas(0)  # 0: glibc's default, nothing set


async def test_the_trimmer_trims_every_interval_and_stops_with_the_app() -> None:
    trimmer = MallocTrimmer(0.01)
    trimmer.start()
    await asyncio.sleep(0.2)
    await trimmer.aclose()
    if malloc._glibc() is not None:
        assert trimmer.trims >= 2
    done = trimmer.trims
    await asyncio.sleep(0.05)
    assert trimmer.trims == done


async def test_no_trimmer_when_the_interval_is_zero() -> None:
    trimmer = MallocTrimmer(0)
    trimmer.start()
    assert trimmer._task is None
    await trimmer.aclose()
