"""Soak test: mixed load against one instance for a long time; everything should stay flat.

    python bench/soak.py [--minutes 30] [--window 5] [--rate 1.0]

Starts `llm-platform serve` (one worker, SQLite in a temporary directory, the scripted
demo models, rate limits off; 127.0.0.1 only) and keeps, for `--minutes`:

- event writers posting batches of study events (every acknowledged event id is kept),
- chat streams (`scripted:echo`), a third of them abandoned mid-answer and resumed later
  with `Last-Event-ID`, some never resumed (the server cancels them when detached),
- uploads of small text documents (ingested in the app) and searches over them.

`--rate` scales how often each kind runs. Every `--window` minutes it prints one row:
the server's resident memory, open file descriptors and asyncio tasks (from
`/api/v1/status`), latency p50/p99 of each kind of request and the errors in the window.
At the end it compares the events acknowledged with those stored in the database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from llm_platform.providers.sse import ServerSentEvent, aiter_events

HOST = "127.0.0.1"
KINDS = ("event", "stream_ttft", "resume", "upload", "search")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_platform(port: int, data: Path, probe: Path | None = None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'soak.db'}",
        "HOST": HOST,
        "PORT": str(port),
        "WORKERS": "1",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_PER_MINUTE": "0",
        "RATE_LIMIT_PER_MINUTE_IP": "0",
        "ENABLE_SCRIPTED_PROVIDER": "true",
        "STREAM_RETENTION_SECONDS": "20",
    }
    env.pop("REDIS_URL", None)
    command = [str(Path(sys.executable).parent / "llm-platform"), "serve"]
    if probe is not None:  # the same server, with memory probes (bench/memory_probe.py)
        env["PROBE_OUT"] = str(probe.resolve())
        command = [sys.executable, str(Path(__file__).with_name("memory_probe.py")), "serve"]
    log = (data / "server.log").open("ab")
    return subprocess.Popen(command, env=env, stdout=log, stderr=log)


def wait_ready(port: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://{HOST}:{port}/api/v1/health", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("the server did not start")


@dataclass
class Window:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class Soak:
    base: str
    rate: float
    stop_at: float
    window: Window = field(default_factory=Window)
    acknowledged: set[str] = field(default_factory=set)
    file_ids: list[str] = field(default_factory=list)
    abandoned: list[tuple[str, int]] = field(default_factory=list)  # (stream id, last id)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    admin: dict[str, str] = field(default_factory=dict)
    user: str = ""  # the participant's id (their session ids start with it)

    def record(self, kind: str, started: float) -> None:
        self.window.latencies[kind].append(time.perf_counter() - started)

    def fail(self, kind: str, error: object) -> None:
        self.window.errors[kind] += 1
        if self.window.errors[kind] <= 3:
            print(f"  ! {kind}: {str(error)[:160]}", file=sys.stderr, flush=True)

    def running(self) -> bool:
        return time.monotonic() < self.stop_at

    async def pause(self, seconds: float) -> None:
        await asyncio.sleep(random.expovariate(1.0 / (seconds / self.rate)))


async def events_worker(soak: Soak, client: httpx.AsyncClient, n: int) -> None:
    session = f"{soak.user}:soak-session-{n}"  # in the participant's namespace
    r = await client.post("/api/v1/sessions", json={"session_id": session})
    r.raise_for_status()
    while soak.running():
        batch = [
            {"event_id": uuid.uuid4().hex, "t": int(time.time() * 1000), "type": "soak"}
            for _ in range(random.randint(1, 20))
        ]
        started = time.perf_counter()
        try:
            r = await client.post("/api/v1/events", json={"session_id": session, "events": batch})
            if r.status_code != 200:
                raise RuntimeError(f"HTTP {r.status_code} {r.text[:100]}")
            body = r.json()
            soak.acknowledged.update(body["accepted"])
            soak.acknowledged.update(body["duplicates"])
            soak.record("event", started)
        except Exception as exc:
            soak.fail("event", exc)
        await soak.pause(0.2)


async def read_frames(
    events: AsyncIterator[ServerSentEvent], limit: int | None, last: int = 0
) -> tuple[int, bool, bool]:
    """(last frame id, saw a token, ended) reading at most `limit` frames."""
    token, frames = False, 0
    async for event in events:
        if event.id:
            last = int(event.id)
            frames += 1
        if event.event in ("token", "thought"):
            token = True
        elif event.event in ("done", "error"):
            return last, token, True
        if limit is not None and frames >= limit:
            return last, token, False
    return last, token, True


async def streams_worker(soak: Soak, client: httpx.AsyncClient, n: int) -> None:
    while soak.running():
        body = {
            "query": f"soak question {random.randint(0, 10**6)}",
            "model_provider": "scripted",
            "model_name": "echo",
            "session_id": f"{soak.user}:soak-chat-{n}",
        }
        abandon = random.random() < 1 / 3
        started = time.perf_counter()
        try:
            async with client.stream("POST", "/api/v1/query/stream", json=body) as r:
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}")
                stream_id = r.headers["x-stream-id"]
                events = aiter_events(r.aiter_bytes())
                last, token, ended = 0, False, False
                while not token and not ended:  # up to the first thought or token
                    last, token, ended = await read_frames(events, 1, last)
                soak.record("stream_ttft", started)
                if not ended and not abandon:
                    last, token, ended = await read_frames(events, None, last)
            if abandon and not ended and random.random() < 0.7:
                soak.abandoned.append((stream_id, last))
            soak.counts["streams"] += 1
        except Exception as exc:
            soak.fail("stream_ttft", exc)
        await soak.pause(1.0)


async def resume_worker(soak: Soak, client: httpx.AsyncClient) -> None:
    while soak.running():
        await asyncio.sleep(0.5)
        if not soak.abandoned:
            continue
        stream_id, last = soak.abandoned.pop(0)
        started = time.perf_counter()
        try:
            headers = {"Last-Event-ID": str(last)}
            async with client.stream(
                "GET", f"/api/v1/query/stream/{stream_id}", headers=headers
            ) as r:
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}")
                _, _, ended = await read_frames(aiter_events(r.aiter_bytes()), None)
                if not ended:
                    raise RuntimeError("resumed stream ended without a terminal frame")
            soak.record("resume", started)
            soak.counts["resumed"] += 1
        except Exception as exc:
            soak.fail("resume", exc)


WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda".split()  # noqa: SIM905


async def uploads_worker(soak: Soak, client: httpx.AsyncClient) -> None:
    while soak.running():
        text = "\n\n".join(
            " ".join(random.choices(WORDS, k=60)) + f" soak document {uuid.uuid4().hex}."
            for _ in range(5)
        )
        started = time.perf_counter()
        try:
            r = await client.post(
                "/api/v1/files/upload",
                files={"file": (f"soak-{uuid.uuid4().hex[:8]}.txt", text, "text/plain")},
            )
            if r.status_code not in (200, 201):
                raise RuntimeError(f"HTTP {r.status_code} {r.text[:100]}")
            soak.file_ids.append(r.json()["id"])
            soak.record("upload", started)
        except Exception as exc:
            soak.fail("upload", exc)
        await soak.pause(5.0)


async def search_worker(soak: Soak, client: httpx.AsyncClient) -> None:
    while soak.running():
        started = time.perf_counter()
        try:
            r = await client.post(
                "/api/v1/rag/search", json={"query": " ".join(random.choices(WORDS, k=3))}
            )
            if r.status_code != 200:
                raise RuntimeError(f"HTTP {r.status_code} {r.text[:100]}")
            soak.record("search", started)
        except Exception as exc:
            soak.fail("search", exc)
        await soak.pause(1.0)


def pct(values: list[float], p: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return f"{ordered[index] * 1000:.0f}"


async def reporter(soak: Soak, client: httpx.AsyncClient, window_s: float, t0: float) -> None:
    header = (
        f"{'window':>8} {'rss MB':>7} {'fds':>5} {'tasks':>6} "
        + " ".join(f"{k + ' p50/p99 ms':>22}" for k in KINDS)
        + f" {'errors':>7}"
    )
    print(header, flush=True)
    index = 0
    while True:
        end = t0 + (index + 1) * window_s
        await asyncio.sleep(max(0.0, min(end, soak.stop_at) - time.monotonic()))
        window, soak.window = soak.window, Window()
        try:
            status = (await client.get("/api/v1/status", headers=soak.admin)).json()["process"]
            rss = f"{status['rss_bytes'] / 2**20:.0f}"
            fds, tasks = str(status["open_fds"]), str(status["asyncio_tasks"])
        except Exception as exc:
            rss = fds = tasks = "?"
            print(f"  ! status: {exc}", file=sys.stderr)
        minutes = (min(end, soak.stop_at) - t0) / 60
        cells = " ".join(
            f"{pct(window.latencies[k], 50) + '/' + pct(window.latencies[k], 99):>22}"
            for k in KINDS
        )
        print(
            f"{minutes:>7.1f}m {rss:>7} {fds:>5} {tasks:>6} {cells} "
            f"{sum(window.errors.values()):>7}",
            flush=True,
        )
        index += 1
        if time.monotonic() >= soak.stop_at:
            return


def stored_events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events WHERE type = 'soak'").fetchone()[0])


async def run(args: argparse.Namespace, port: int, data: Path) -> int:
    base = f"http://{HOST}:{port}"
    t0 = time.monotonic()
    soak = Soak(base=base, rate=args.rate, stop_at=t0 + args.minutes * 60)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
    timeout = httpx.Timeout(60.0)
    # A participant (token minted as the web app does) drives the load; the status figures are
    # read with the operator's admin key (`serve` keeps it in DATA_DIR/admin_key).
    async with httpx.AsyncClient(base_url=base, timeout=10) as first:
        minted = await first.post("/api/v1/auth/participant")
        minted.raise_for_status()
    headers = {"Authorization": f"Bearer {minted.json()['token']}"}
    soak.user = minted.json()["user_id"]
    soak.admin = {"Authorization": f"Bearer {(data / 'admin_key').read_text().strip()}"}
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=timeout, headers=headers
    ) as client:
        # Warm-up, not measured: the embedding model loads on the first upload and search.
        warm = await client.post(
            "/api/v1/files/upload", files={"file": ("warm.txt", "warm up text", "text/plain")}
        )
        warm.raise_for_status()
        (await client.post("/api/v1/rag/search", json={"query": "warm"})).raise_for_status()
        t0 = time.monotonic()
        soak.stop_at = t0 + args.minutes * 60
        workers = [events_worker(soak, client, n) for n in range(args.event_writers)]
        workers += [streams_worker(soak, client, n) for n in range(args.streamers)]
        workers += [resume_worker(soak, client), uploads_worker(soak, client)]
        workers += [search_worker(soak, client)]
        await asyncio.gather(reporter(soak, client, args.window * 60, t0), *workers)
        await asyncio.sleep(1.0)  # the last batches' commits
    stored = stored_events(data / "soak.db")
    acked = len(soak.acknowledged)
    print(
        f"events acknowledged {acked}, stored {stored} "
        f"({'equal' if acked == stored else 'DIFFERENT'}); streams {soak.counts['streams']}, "
        f"resumed {soak.counts['resumed']}, uploads {len(soak.file_ids)}",
        flush=True,
    )
    return 0 if acked == stored else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long (default 30)")
    parser.add_argument("--window", type=float, default=5.0, help="minutes per row (default 5)")
    parser.add_argument("--rate", type=float, default=1.0, help="load multiplier (default 1)")
    parser.add_argument("--event-writers", type=int, default=4)
    parser.add_argument("--streamers", type=int, default=4)
    parser.add_argument(
        "--probe",
        type=Path,
        default=None,
        help="run the server under bench/memory_probe.py, writing its reports to this file "
        "(set PYTHONTRACEMALLOC=N too for allocation sites)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmp-soak-") as tmp:
        data = Path(tmp)
        port = free_port()
        server = start_platform(port, data, args.probe)
        try:
            wait_ready(port)
            print(
                f"soak: {args.minutes:g} min, {args.window:g}-min windows, pid {server.pid}",
                flush=True,
            )
            return asyncio.run(run(args, port, data))
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    sys.exit(main())
