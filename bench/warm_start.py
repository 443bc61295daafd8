"""First chat after start: time to first token with and without the warm start.

    python bench/warm_start.py [--runs 3] [--modes lazy,background,warm]

Each run starts a fresh `llm-platform serve` (SQLite in a temporary DATA_DIR, the embedded
model, files/RAG on) on a free port, sends one chat (POST /api/v1/query/stream) the instant
the port accepts a TCP connection (or once /api/v1/ready answers 200, modes `*-ready`) and
measures, from the moment the request is sent: time to the first `token` frame and to the
end of the answer; also from the process start to the port opening and to that first token;
then a second chat (another question) for the steady-state first-token time of the server.

Modes:
  before            the code at --before (a checkout's directory, put on PYTHONPATH)
  lazy              WARM_START=false: the model loads on the first request
  background        WARM_START_WAIT=false: the port opens at once, the models load in the
                    background (a chat sent meanwhile waits for the rest of the load)
  background-ready  the same, the chat sent once /api/v1/ready answers 200
  warm              the defaults (WARM_START, WARM_START_WAIT): the port opens once the
                    models are loaded

Runs interleave the modes (run 1 of each, then run 2 of each...) so that a change in the
machine's load hits them alike; prints the median per mode and each run's first token.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from llm_platform.providers.sse import SSEDecoder

QUESTION = "Say hello in one short sentence."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command() -> list[str]:
    script = Path(sys.executable).parent / "llm-platform"
    if script.is_file():
        return [str(script), "serve"]
    return [sys.executable, "-c", "from llm_platform.cli import app; app()", "serve"]


def wait_port(port: int, deadline: float) -> float:
    """The instant a TCP connection to the port succeeds."""
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return time.monotonic()
        except OSError:
            time.sleep(0.005)
    raise SystemExit("timed out waiting for the port to open")


def wait_for(client: httpx.Client, path: str, deadline: float) -> float:
    while time.monotonic() < deadline:
        try:
            if client.get(path, timeout=2).status_code == 200:
                return time.monotonic()
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {path}")


def first_chat(client: httpx.Client, question: str = QUESTION) -> tuple[float, float]:
    body = {"query": question, "user_id": "bench", "max_tokens": 24, "temperature": 0}
    sent = time.perf_counter()
    first: float | None = None
    with client.stream("POST", "/api/v1/query/stream", json=body, timeout=120) as response:
        response.raise_for_status()
        decoder = SSEDecoder()
        for event in (e for chunk in response.iter_bytes() for e in decoder.feed(chunk)):
            if event.data == b"[DONE]":
                break
            frame = json.loads(event.data)
            if frame.get("type") == "token" and first is None:
                first = time.perf_counter() - sent
            if frame.get("type") == "error":
                raise SystemExit(f"chat failed: {frame}")
    total = time.perf_counter() - sent
    return first if first is not None else total, total


def one_run(mode: str, before: str | None) -> dict[str, float]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="llmp-warm-") as data:
        env = {
            **os.environ,
            "DATA_DIR": data,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "WARM_START": "false" if mode == "lazy" else "true",
            "WARM_START_WAIT": "false" if mode.startswith("background") else "true",
            # The chats name their user (`user_id`), as the old code's clients did.
            "TRUST_CLIENT_USER_ID": "true",
        }
        if mode == "before":
            if before is None:
                raise SystemExit("mode 'before' needs --before DIR (a checkout of the old code)")
            env["PYTHONPATH"] = before
        started = time.monotonic()
        proc = subprocess.Popen(serve_command(), env=env, cwd=data)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                up = wait_port(port, started + 180)
                ready = up
                if mode.endswith("-ready"):
                    ready = wait_for(client, "/api/v1/ready", started + 180)
                sent = time.monotonic()
                ttft, total = first_chat(client)
                # A second chat (another question) on the same server: the steady state.
                second, _ = first_chat(client, "Name two colours.")
                key = Path(data) / "admin_key"  # the operator's key (the old code has none)
                admin = (
                    {"Authorization": f"Bearer {key.read_text().strip()}"} if key.exists() else {}
                )
                loads = client.get("/api/v1/status", headers=admin).json().get("models", {})
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = {
        "port_open_after_s": up - started,
        "chat_sent_after_s": ready - started,
        "first_token_s": ttft,
        "first_token_since_start_s": sent + ttft - started,
        "answer_s": total,
        "second_chat_first_token_s": second,
    }
    for name, load in loads.items():
        if load.get("seconds") is not None:
            result[f"load {name} s"] = load["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modes", default="lazy,background,warm")
    parser.add_argument("--before", default=None, help="old checkout for mode 'before'")
    args = parser.parse_args()
    modes = args.modes.split(",")
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    for _ in range(args.runs):
        for mode in modes:
            results[mode].append(one_run(mode, args.before))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2-core machine)")
    for mode, runs in results.items():
        keys = list(dict.fromkeys(k for run in runs for k in run))
        medians = {k: statistics.median(r[k] for r in runs if k in r) for k in keys}
        figures = "  ".join(f"{k}={v:.2f}" for k, v in medians.items())
        firsts = ", ".join(f"{r['first_token_s']:.2f}" for r in runs)
        print(f"{mode:11s} median of {len(runs)}: {figures}   (first token per run: {firsts})")


if __name__ == "__main__":
    main()
