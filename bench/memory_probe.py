"""`llm-platform serve` with memory probes: where does a soak's resident memory go?

    PROBE_OUT=probe.log python bench/memory_probe.py serve [serve options]

(`bench/soak.py --probe` starts the server this way.) Every PROBE_INTERVAL seconds (default
60) a thread appends one block to PROBE_OUT:

- RSS, and glibc's malloc heap (`mallinfo2`, all arenas): bytes the heap holds from the
  system, of which in use and free. Free bytes growing while the in-use bytes stay flat is
  fragmentation, not live objects;
- the bytes Python allocations hold (tracemalloc, when PYTHONTRACEMALLOC is set) and the
  allocation sites that grew most since the first probe;
- live Python objects by type (`gc`) that grew most since the first probe;
- the sizes of the app's in-process containers (stream buffers, running generations, rate
  limiter, session owners, metrics label sets...), found by walking `app.state.platform`.

A diagnosis tool: nothing here runs in the product.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sys
import threading
import time
import tracemalloc
from collections import Counter
from typing import Any

OUT = os.environ.get("PROBE_OUT", "probe.log")
INTERVAL = float(os.environ.get("PROBE_INTERVAL", "60"))
BASELINE = int(os.environ.get("PROBE_BASELINE", "1"))  # the report growth is measured from


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def heap() -> str:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return "heap: mallinfo2 unavailable"
    mb = 2**20
    return (
        f"heap: arenas {info.arena / mb:.1f} MB (in use {info.uordblks / mb:.1f}, "
        f"free {info.fordblks / mb:.1f}, free chunks {info.ordblks}), "
        f"mmapped {info.hblkhd / mb:.1f} MB in {info.hblks} blocks"
    )


def sqlite_memory() -> str:
    """Bytes the SQLite libraries hold (page caches, statements): sqlean's, the stdlib's."""
    import glob
    import importlib

    out = []
    for name in ("sqlean", "sqlite3"):
        try:
            module = importlib.import_module(name)
            folder = os.path.dirname(module.__file__ or "")
            found = glob.glob(f"{folder}/_sqlite3*.so") or glob.glob(
                f"{os.path.dirname(os.__file__)}/lib-dynload/_sqlite3*.so"
            )
            used = ctypes.CDLL(found[0]).sqlite3_memory_used
            used.restype = ctypes.c_int64
            out.append(f"{name} {used() / 2**20:.1f} MB")
        except (ImportError, OSError, AttributeError, IndexError):
            continue
    return "sqlite memory: " + ", ".join(out)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def anon_mb() -> str:
    try:
        with open("/proc/self/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return f"anon {fields['RssAnon'].strip()}, file {fields['RssFile'].strip()}"
    except (OSError, KeyError):
        return ""


def sizes(root: Any, prefix: str, depth: int, seen: set[int], out: dict[str, int]) -> None:
    """len() of every container reachable through attributes, a few levels deep."""
    if depth < 0 or id(root) in seen or isinstance(root, (str, bytes, int, float, type)):
        return
    seen.add(id(root))
    if isinstance(root, (dict, list, set, tuple, frozenset)) or hasattr(root, "__len__"):
        with contextlib.suppress(Exception):
            out[prefix] = len(root)
    if isinstance(root, dict):
        items = list(root.items())[:20]
        if all(isinstance(k, str) for k, _ in items) and len(root) <= 20:
            for key, value in items:
                sizes(value, f"{prefix}[{key}]", depth - 1, seen, out)
        return
    attrs = getattr(root, "__dict__", None)
    if not isinstance(attrs, dict):
        return
    for name, value in list(attrs.items()):
        sizes(value, f"{prefix}.{name}", depth - 1, seen, out)


def type_counts() -> Counter[str]:
    return Counter(type(o).__qualname__ for o in gc.get_objects())


class Probe:
    def __init__(self) -> None:
        self.app: Any = None
        self.first: tracemalloc.Snapshot | None = None
        self.first_types: Counter[str] | None = None
        self.first_sizes: dict[str, int] = {}
        self.started = time.monotonic()
        self.reports = 0

    def report(self) -> None:
        self.reports += 1
        baseline = self.reports <= BASELINE  # (re)taken until the BASELINE-th report
        lines = [f"=== t={(time.monotonic() - self.started) / 60:.1f} min rss {rss_mb():.0f} MB"]
        lines.append(f"  {anon_mb()}; threads {threading.active_count()}")
        lines.append(f"  {heap()}; {sqlite_memory()}")
        if tracemalloc.is_tracing():
            traced = tracemalloc.get_traced_memory()[0]
            lines.append(f"  tracemalloc: {traced / 2**20:.1f} MB traced")
            snapshot = tracemalloc.take_snapshot()
            if baseline or self.first is None:
                self.first = snapshot
            else:
                for stat in snapshot.compare_to(self.first, "traceback")[:12]:
                    if stat.size_diff <= 0:
                        continue
                    frames = [
                        f"{f.filename.split('site-packages/')[-1]}:{f.lineno}"
                        for f in stat.traceback[-6:]
                    ]
                    lines.append(
                        f"  +{stat.size_diff / 1024:.0f} KiB +{stat.count_diff} blocks: "
                        + " <- ".join(reversed(frames))
                    )
        counts = type_counts()
        if baseline or self.first_types is None:
            self.first_types = counts
        else:
            grown = (counts - self.first_types).most_common(10)
            lines.append("  objects grown: " + ", ".join(f"{k} +{v}" for k, v in grown))
        if self.app is not None:
            platform = getattr(self.app.state, "platform", None)
            now: dict[str, int] = {}
            if platform is not None:
                sizes(platform, "state", 5, set(), now)
            if baseline:
                self.first_sizes = now
            changed = {k: v for k, v in now.items() if v != self.first_sizes.get(k) and v > 0}
            lines.append(
                "  containers changed: "
                + ", ".join(f"{k}={self.first_sizes.get(k, 0)}->{v}" for k, v in changed.items())
            )
        with open(OUT, "a") as f:
            f.write("\n".join(lines) + "\n")

    def run(self) -> None:
        while True:
            time.sleep(INTERVAL)
            try:
                self.report()
            except Exception as exc:
                with open(OUT, "a") as f:
                    f.write(f"probe failed: {exc!r}\n")


def main() -> None:
    import llm_platform.main

    probe = Probe()
    create_app = llm_platform.main.create_app

    def create_and_keep(*args: Any, **kwargs: Any) -> Any:
        probe.app = create_app(*args, **kwargs)
        return probe.app

    llm_platform.main.create_app = create_and_keep  # type: ignore[assignment]
    threading.Thread(target=probe.run, name="memory-probe", daemon=True).start()
    from llm_platform.cli import app

    sys.argv = ["llm-platform", *sys.argv[1:]]
    app()


if __name__ == "__main__":
    main()
