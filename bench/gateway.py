"""Gateway overhead benchmark: the platform in front of a fake OpenAI-compatible upstream.

    python bench/gateway.py [--runs 3] [--duration 8] [--delay-ms 1000] [--quick]

Starts, on 127.0.0.1 only: the fake upstream (bench/gateway_upstream.py, uvicorn) and the
platform as users start it (`llm-platform serve`, one worker, SQLite query log; its `openai`
provider points at the upstream through OPENAI_BASE_URL). A raw asyncio HTTP/1.1 keep-alive client
(cheap enough not to be the bottleneck) then measures the same requests sent directly to the
upstream and through the platform's `/v1/chat/completions`:

- non-streaming latency overhead p50/p99 at 50 and 200 concurrent clients,
- streaming time-to-first-token overhead p50/p99 (50 concurrent clients),
- requests/s per worker with an instant upstream (64 concurrent clients),
- resident memory with 1,000 concurrent open streams (and errors).

Overheads are platform percentile minus direct percentile; each figure is the median of
`--runs` runs, measured after an unmeasured settling pass at the same concurrency (direct
and through the platform). Every request loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"


# ----------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def start_upstream(port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", "gateway_upstream:app", "--app-dir", str(HERE)]
    cmd += ["--host", HOST, "--port", str(port), "--log-level", "warning", "--no-access-log"]
    return subprocess.Popen(cmd)


def start_platform(port: int, upstream: int, data: Path) -> subprocess.Popen[bytes]:
    """The product's own command, `llm-platform serve`, one worker, SQLite in `data`."""
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'bench.db'}",
        "HOST": HOST,
        "PORT": str(port),
        "WORKERS": "1",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_PER_MINUTE": "0",
        "RATE_LIMIT_PER_MINUTE_IP": "0",
        "OPENAI_BASE_URL": f"http://{HOST}:{upstream}/v1",
        "OPENAI_API_KEY": "bench-key",
        "PROVIDER_MAX_CONCURRENCY": "4096",
        "PROVIDER_MAX_CONNECTIONS": "4096",
    }
    env.pop("REDIS_URL", None)
    command = Path(sys.executable).parent / "llm-platform"
    return subprocess.Popen([str(command), "serve"], env=env)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ----------------------------------------------------------------------------- client
@dataclass
class Sample:
    total: float
    ttft: float | None


@dataclass
class Stats:
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    cpu_ms: float = 0.0  # platform CPU per request

    def pct(self, p: float, ttft: bool = False) -> float:
        values = sorted(s.ttft if ttft else s.total for s in self.samples if not ttft or s.ttft)
        if not values:
            return float("nan")
        index = min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))
        return values[index] * 1000  # type: ignore[operator]

    @property
    def rps(self) -> float:
        return len(self.samples) / self.elapsed if self.elapsed else 0.0


def _is_token(data: bytes) -> bool:
    at = data.find(b'"content":"')
    while at != -1:
        if data[at + 11 : at + 12] not in (b'"', b""):
            return True
        at = data.find(b'"content":"', at + 11)
    return False


class Connection:
    """One keep-alive HTTP/1.1 connection; reads Content-Length and chunked bodies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> Sample:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        started = time.perf_counter()
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        headers = head.lower()
        ttft: float | None = None
        body = b""
        if b"transfer-encoding: chunked" in headers:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                piece = (await self.reader.readexactly(size + 2))[:-2]
                if ttft is None and _is_token(piece):
                    ttft = time.perf_counter() - started
                body = piece if len(body) > 4096 else body + piece
        else:
            length = 0
            for line in headers.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await self.reader.readexactly(length)
        total = time.perf_counter() - started
        if status != 200 or b'"error"' in body[-600:]:
            raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
        return Sample(total=total, ttft=ttft)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def participant_token(port: int) -> str:
    """A participant's token, as the OpenAI SDK's `api_key` of a client of the facade."""
    r = httpx.post(f"http://{HOST}:{port}/api/v1/auth/participant", timeout=10)
    r.raise_for_status()
    return str(r.json()["token"])


# The participant token every request carries (as an SDK's `api_key`, sent to the upstream
# too when called directly, as an SDK would send its key): set once the platform is up.
TOKEN: list[str] = []


def chat_request(path: str, model: str, stream: bool) -> bytes:
    body = orjson.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": "Say hello, please."}],
            "stream": stream,
        }
    )
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        + "".join(f"Authorization: Bearer {token}\r\n" for token in TOKEN)
        + f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def load(
    port: int,
    raw: bytes,
    clients: int,
    duration: float,
    max_requests: int,
    spread: float = 0.0,
) -> Stats:
    """`clients` closed-loop clients for `duration` seconds (or `max_requests` in total).

    Client i starts after `i * spread / clients` seconds: with `spread` = the upstream's
    delay, requests arrive evenly instead of in lockstep bursts of `clients` at once (which
    would measure the burst's queue, not the per-request overhead)."""
    stats = Stats()
    deadline = time.perf_counter() + duration
    budget = [max_requests]

    async def client(index: int) -> None:
        await asyncio.sleep(index * spread / clients)
        conn = Connection(port)
        try:
            while time.perf_counter() < deadline and budget[0] > 0:
                budget[0] -= 1
                try:
                    stats.samples.append(await conn.request(raw))
                except (OSError, RuntimeError, asyncio.IncompleteReadError, ValueError) as exc:
                    stats.errors += 1
                    if stats.errors <= 3:
                        print(f"    error: {exc}", file=sys.stderr)
                    conn.close()
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    stats.elapsed = time.perf_counter() - started
    return stats


async def warm(port: int, raw: bytes) -> None:
    await load(port, raw, 8, 1.0, 200)


async def settle(ports: Ports, model: str, stream: bool, clients: int, spread: float) -> None:
    """Unmeasured load at the scenario's concurrency, direct and through the platform, before
    its runs: connection pools at their steady size, caches and allocator warm. The figures
    are the steady state, not the first second of a new concurrency level."""
    for port, name in ((ports.upstream, model), (ports.platform, f"openai:{model}")):
        raw = chat_request("/v1/chat/completions", name, stream)
        await load(port, raw, clients, max(2.0, 2 * spread), clients * 400, spread)


# ----------------------------------------------------------------------------- scenarios
@dataclass
class Ports:
    upstream: int
    platform: int
    platform_pid: int = 0


def model_name(delay_ms: int, chunks: int, interval_ms: int) -> str:
    return f"bench-d{delay_ms}-c{chunks}-i{interval_ms}"


async def compare(
    ports: Ports, model: str, stream: bool, clients: int, duration: float, spread: float
) -> tuple[Stats, Stats]:
    direct_raw = chat_request("/v1/chat/completions", model, stream)
    platform_raw = chat_request("/v1/chat/completions", f"openai:{model}", stream)
    cap = clients * 400
    direct = await load(ports.upstream, direct_raw, clients, duration, cap, spread)
    cpu = cpu_seconds(ports.platform_pid)
    via = await load(ports.platform, platform_raw, clients, duration, cap, spread)
    via.cpu_ms = (cpu_seconds(ports.platform_pid) - cpu) * 1000 / max(1, len(via.samples))
    return direct, via


def med(values: list[float]) -> float:
    return statistics.median(values)


async def run(args: argparse.Namespace, ports: Ports, platform_pid: int) -> None:
    delay = args.delay_ms
    ns_model = model_name(delay, 16, 0)
    print(
        f"upstream answer: 16 chunks after {delay} ms (streaming: 10 ms apart); "
        f"client starts spread over {delay} ms"
    )
    await warm(ports.platform, chat_request("/v1/chat/completions", f"openai:{ns_model}", False))

    verdicts: list[str] = []
    for clients in (50, 200):
        p50s, p99s, direct50, via50, direct99, via99, errs = [], [], [], [], [], [], 0
        cpus = []
        await settle(ports, ns_model, False, clients, delay / 1000)
        for _ in range(args.runs):
            direct, via = await compare(
                ports, ns_model, False, clients, args.duration, delay / 1000
            )
            cpus.append(via.cpu_ms)
            p50s.append(via.pct(50) - direct.pct(50))
            p99s.append(via.pct(99) - direct.pct(99))
            direct50.append(direct.pct(50))
            via50.append(via.pct(50))
            direct99.append(direct.pct(99))
            via99.append(via.pct(99))
            errs += direct.errors + via.errors
        print(
            f"non-streaming, {clients:>3} clients: overhead p50 {med(p50s):6.2f} ms, "
            f"p99 {med(p99s):6.2f} ms  (direct p50/p99 {med(direct50):.1f}/{med(direct99):.1f} "
            f"ms, platform {med(via50):.1f}/{med(via99):.1f} ms, {len(via.samples)} req/run, "
            f"platform CPU {med(cpus):.2f} ms/req, errors {errs})"
        )
        if clients == 50:
            verdicts.append(_verdict("non-streaming overhead p50 at 50 clients", med(p50s), 3))
            verdicts.append(_verdict("non-streaming overhead p99 at 50 clients", med(p99s), 15))

    st_model = model_name(delay, 16, 10)
    p50s, p99s, errs, cpus = [], [], 0, []
    await settle(ports, st_model, True, 50, delay / 1000)
    for _ in range(args.runs):
        direct, via = await compare(ports, st_model, True, 50, args.duration, delay / 1000)
        cpus.append(via.cpu_ms)
        p50s.append(via.pct(50, ttft=True) - direct.pct(50, ttft=True))
        p99s.append(via.pct(99, ttft=True) - direct.pct(99, ttft=True))
        errs += direct.errors + via.errors
    print(
        f"streaming TTFT,  50 clients: overhead p50 {med(p50s):6.2f} ms, p99 {med(p99s):6.2f} ms"
        f"  (platform CPU {med(cpus):.2f} ms/stream, errors {errs})"
    )
    verdicts.append(_verdict("streaming TTFT overhead p50 at 50 clients", med(p50s), 5))

    fast = model_name(0, 16, 0)
    raw = chat_request("/v1/chat/completions", f"openai:{fast}", False)
    direct_raw = chat_request("/v1/chat/completions", fast, False)
    rates, direct_rates = [], []
    for _ in range(args.runs):
        rates.append((await load(ports.platform, raw, 64, args.duration, 10**6)).rps)
        direct_rates.append((await load(ports.upstream, direct_raw, 64, args.duration, 10**6)).rps)
    print(
        f"throughput, instant upstream, 64 clients: {med(rates):7.0f} req/s per worker "
        f"(upstream alone: {med(direct_rates):.0f} req/s)"
    )

    if args.streams:
        await open_streams(ports, platform_pid, args.streams)
    print("targets (this machine, one worker):")
    for line in verdicts:
        print(f"  {line}")


def _verdict(what: str, value: float, target: float) -> str:
    verdict = "met" if value <= target else "MISSED"
    return f"{what}: {value:.2f} ms (target <= {target:g} ms: {verdict})"


async def open_streams(ports: Ports, pid: int, count: int) -> None:
    """`count` concurrent streams held open ~10 s each; RSS sampled while all are open."""
    model = f"openai:{model_name(100, 21, 500)}"
    raw = chat_request("/v1/chat/completions", model, True)
    before = rss_mb(pid)
    done = 0
    errors = 0
    first_tokens = 0

    async def one() -> None:
        nonlocal done, errors, first_tokens
        conn = Connection(ports.platform)
        try:
            sample = await conn.request(raw)
            done += 1
            if sample.ttft is not None:
                first_tokens += 1
        except Exception as exc:
            errors += 1
            if errors <= 3:
                print(f"    stream error: {exc!r}", file=sys.stderr)
        finally:
            conn.close()

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    await asyncio.sleep(6)  # all open and streaming (each lasts ~10 s)
    peak = rss_mb(pid)
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    print(
        f"{count} concurrent open streams: RSS {before:.0f} MB -> {peak:.0f} MB while open "
        f"({(peak - before) * 1024 / count:.0f} KB per stream), {done} completed, "
        f"{errors} errors"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--delay-ms", type=int, default=1000, help="upstream time to answer")
    parser.add_argument("--streams", type=int, default=1000, help="open streams (0: skip)")
    parser.add_argument("--quick", action="store_true", help="1 run of 3 s, 200 streams")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.duration, args.streams = 1, 3.0, 200

    with tempfile.TemporaryDirectory(prefix="llmp-bench-") as tmp:
        ports = Ports(upstream=free_port(), platform=free_port())
        upstream = start_upstream(ports.upstream)
        platform = start_platform(ports.platform, ports.upstream, Path(tmp))
        ports.platform_pid = platform.pid
        try:
            wait_port(ports.upstream)
            wait_port(ports.platform)
            TOKEN.append(participant_token(ports.platform))
            time.sleep(0.5)
            print("platform: `llm-platform serve`, its own 'openai' adapter (official SDK)")
            print(f"runs: median of {args.runs} x {args.duration:g} s; 1 uvicorn worker; SQLite")
            print(f"machine load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
            with contextlib.suppress(ImportError):
                import uvloop

                uvloop.install()
            asyncio.run(run(args, ports, platform.pid))
        finally:
            for proc in (platform, upstream):
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)


if __name__ == "__main__":
    main()
