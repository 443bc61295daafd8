"""`llm-platform worker` processes sharing a Redis queue: kill one mid-ingestion, start
another, the file still ends ready (job state lives in the database)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from llm_platform.core.config import Settings
from llm_platform.rag.embeddings import LocalEmbedder
from tests.conftest import start_client
from tests.support.files import upload, wait_done

pytestmark = pytest.mark.slow


def _spawn_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from llm_platform.cli import app; app()", "worker"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def test_killed_worker_job_is_picked_up_by_the_next_one(
    make_settings: Callable[..., Settings],
    redis_url: str,
    tmp_path: Path,
    embedder: LocalEmbedder,
) -> None:
    queue = f"llmp-test:{uuid.uuid4().hex[:8]}"
    settings = make_settings(
        REDIS_URL=redis_url,
        INGEST_QUEUE=queue,
        INGEST_IN_APP=False,
        INGEST_LEASE_SECONDS=3,
        INGEST_SWEEP_SECONDS=0.5,
    )
    env = {
        **os.environ,
        "DATA_DIR": str(settings.DATA_DIR),
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": redis_url,
        "INGEST_QUEUE": queue,
        "INGEST_LEASE_SECONDS": "3",
        "INGEST_SWEEP_SECONDS": "0.5",
        "LOG_LEVEL": "INFO",
        "HF_HUB_OFFLINE": "1",
    }
    log = tmp_path / "worker.log"
    paragraphs = [
        f"Section {i}. The committee reviewed budget line {i} and approved "
        f"{i * 7} units for the northern depot, noting delays in shipment {i}." * 3
        for i in range(150)
    ]
    async for client in start_client(settings):
        r = await upload(client, "minutes.txt", "\n\n".join(paragraphs).encode())
        fid = r.json()["id"]
        first = _spawn_worker(env, log)
        try:
            for _ in range(1200):
                body = (
                    await client.get(f"/api/v1/files/{fid}", headers={"x-user-id": "u1"})
                ).json()
                if body["status"] == "processing" and body["stage"] == "embedding":
                    break
                assert first.poll() is None, log.read_text()
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"never reached embedding: {body}\n{log.read_text()}")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        killed = (await client.get(f"/api/v1/files/{fid}", headers={"x-user-id": "u1"})).json()
        assert killed["status"] == "processing"  # held by a dead worker until its lease ends

        second = _spawn_worker(env, log)
        try:
            done = await wait_done(client, fid, max_wait=240)
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(30)
            except subprocess.TimeoutExpired:
                second.kill()
        assert done["status"] == "ready", (done, log.read_text()[-3000:])
        assert done["chunk_count"] > 10
        search = await client.post(
            "/api/v1/rag/search",
            json={"query": "units approved for the northern depot", "top_k": 3},
            headers={"x-user-id": "u1"},
        )
        assert search.json()["results"]
        assert "job_resent" in log.read_text()
        assert second.returncode == 0  # SIGTERM: graceful stop
