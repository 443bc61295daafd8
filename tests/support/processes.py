"""`llm-platform serve` as a real process: the console script, a newcomer's environment, a
free port, and a server started and stopped around a test."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from llm_platform.core.config import Settings


def cli_path() -> str:
    beside = Path(sys.executable).parent / "llm-platform"
    found = str(beside) if beside.exists() else shutil.which("llm-platform")
    assert found, "the llm-platform console script is not installed"
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any of our settings: a newcomer's shell."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(workdir: Path, port: int, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    log = (workdir / "server.log").open("ab")
    proc = subprocess.Popen(
        [cli_path(), "serve", "--port", str(port)],
        cwd=workdir,
        env=clean_env(LOG_LEVEL="WARNING", **env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_ready(proc, port, workdir)
        yield proc
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group (a server's workers too), SIGKILL after 10 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def wait_ready(proc: subprocess.Popen[bytes], port: int, workdir: Path) -> None:
    deadline = time.monotonic() + 180  # the models load before the port opens
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (workdir / "server.log").read_text(errors="replace")
            raise AssertionError(f"server exited with {proc.returncode}:\n{log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not start within 180 s")
