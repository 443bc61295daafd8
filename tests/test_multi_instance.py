"""Several instances behind one address: 3 `llm-platform serve` + 2 `llm-platform worker`
behind nginx, on PostgreSQL + Redis, in api_key mode (see docs/deploy.md, "Several
instances").

Started together on an empty database (the migrations run once); then: events posted twice
to different instances are stored once; uploads are ingested once by the workers; a stream
started on one instance is resumed on a second and cancelled through a third; a user's rate
limit is one budget across instances; one instance killed mid-stream: its turn ends
`interrupted`, the client resuming through the proxy gets an `interrupted` error frame,
and a stream on another instance finishes normally.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from llm_platform.db.migrate import head_revision
from llm_platform.db.models import Event, File, FileChunk, Query
from llm_platform.providers.sse import ServerSentEvent, aiter_events
from tests.conftest import _with_database
from tests.support.processes import clean_env, cli_path, free_port, stop

pytestmark = pytest.mark.slow

REDIS_DB = 13  # the other Redis-backed tests use 15
RATE_LIMIT = 40  # requests per minute per user, shared by all instances


def nginx_path() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is required on CI (apt-get install nginx)")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    return found


NGINX_CONF = """
worker_processes 1;
{user}
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream llm_platform {{
        {servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 60m;
        location / {{
            proxy_pass http://llm_platform;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


@dataclass
class Opened:
    response: httpx.Response
    stream_id: str
    query_id: str
    instance: int
    frames: list[tuple[int, str, str]]


@dataclass
class Cluster:
    workdir: Path
    env: dict[str, str]
    ports: list[int] = field(default_factory=list)
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    proxy_port: int = 0
    keys: dict[str, str] = field(default_factory=dict)

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"


def spawn(workdir: Path, env: dict[str, str], *args: str, log: str) -> subprocess.Popen[bytes]:
    out = (workdir / log).open("ab")
    return subprocess.Popen(
        [cli_path(), *args],
        cwd=workdir,
        env=clean_env(**env),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(cluster: Cluster, timeout: float = 240) -> None:  # models load first
    deadline = time.monotonic() + timeout
    pending = set(range(len(cluster.ports)))
    while pending and time.monotonic() < deadline:
        for i in list(pending):
            proc = cluster.servers[i]
            if proc.poll() is not None:
                log = (cluster.workdir / f"serve-{i}.log").read_text(errors="replace")
                raise AssertionError(f"instance {i} exited with {proc.returncode}:\n{log}")
            try:
                if httpx.get(f"{cluster.url(i)}/api/v1/health", timeout=1).status_code == 200:
                    pending.discard(i)
            except httpx.TransportError:
                pass
        time.sleep(0.2)
    assert not pending, f"instances {pending} did not start"


def create_key(
    workdir: Path, env: dict[str, str], user: str, role: str = "user"
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [cli_path(), "users", "create", user, "--role", role],
        cwd=workdir,
        env=clean_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@contextmanager
def run_cluster(workdir: Path, env: dict[str, str]) -> Iterator[Cluster]:
    cluster = Cluster(workdir=workdir, env=env)
    with ExitStack() as stack:
        for i in range(3):  # all at once, on an empty database
            port = free_port()
            cluster.ports.append(port)
            proc = spawn(workdir, env, "serve", "--port", str(port), log=f"serve-{i}.log")
            cluster.servers.append(proc)
            stack.callback(stop, proc)
        for i in range(2):
            worker = spawn(workdir, env, "worker", log=f"worker-{i}.log")
            stack.callback(stop, worker)
        makers = {u: create_key(workdir, env, u) for u in ("alice", "bob", "carol")}
        makers["ops"] = create_key(workdir, env, "ops", "admin")
        for user, maker in makers.items():
            out, _ = maker.communicate(timeout=90)
            assert maker.returncode == 0, out
            cluster.keys[user] = out.decode().strip().splitlines()[-1]
        wait_ready(cluster)
        cluster.proxy_port = free_port()
        nginx_dir = workdir / "nginx"
        nginx_dir.mkdir()
        servers = "\n        ".join(
            f"server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;" for p in cluster.ports
        )
        conf = NGINX_CONF.format(
            dir=nginx_dir,
            servers=servers,
            port=cluster.proxy_port,
            user="user root;" if os.geteuid() == 0 else "",
        )
        (nginx_dir / "nginx.conf").write_text(conf)
        nginx = subprocess.Popen(
            [
                nginx_path(),
                "-p",
                str(nginx_dir),
                "-c",
                str(nginx_dir / "nginx.conf"),
                "-g",
                "daemon off;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(nginx_dir / "stderr.log").open("ab"),
            start_new_session=True,
        )
        stack.callback(stop, nginx)
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"{cluster.proxy}/api/v1/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield cluster


@pytest.fixture
async def cluster_db(pg_server_url: str) -> AsyncIterator[str]:
    """An empty PostgreSQL database (with pgvector available): the instances migrate it."""
    name = "mi_" + uuid.uuid4().hex[:12]
    admin = create_async_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE {name}"))
    url = _with_database(pg_server_url, name)
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    await engine.dispose()
    yield url
    async with admin.connect() as conn:
        await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    await admin.dispose()


_events: dict[int, AsyncIterator[ServerSentEvent]] = {}


async def read_until(
    response: httpx.Response, stop_at: set[str], limit: int = 10_000
) -> list[tuple[int, str, str]]:
    """(id, type, data) of the frames up to (and including) the first of a type in
    `stop_at` (or `limit` frames, or the end); a later call goes on where this one stopped."""
    events = _events.setdefault(id(response), aiter_events(response.aiter_bytes()))
    frames: list[tuple[int, str, str]] = []
    try:
        async for event in events:
            if event.event == "message":
                continue  # the platform's frames are all typed
            frames.append((int(event.id or 0), event.event, event.text))
            if event.event in stop_at or len(frames) >= limit:
                break
    except httpx.HTTPError:  # the serving instance died: what arrived is returned
        pass
    return frames


async def wait_for(
    engine: AsyncEngine, query: object, expected: object, within: float = 30
) -> object:
    deadline = time.monotonic() + within
    while True:
        async with engine.connect() as conn:
            value = (await conn.execute(query)).scalar()  # type: ignore[call-overload]
        if value == expected or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.2)


async def test_three_instances_two_workers_behind_nginx(
    tmp_path: Path, cluster_db: str, redis_url: str
) -> None:
    nginx_path()
    started = time.monotonic()
    redis = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    import redis as redis_lib

    redis_lib.Redis.from_url(redis).flushdb()
    env = {
        "DATABASE_URL": cluster_db,
        "REDIS_URL": redis,
        "AUTH_MODE": "api_key",
        "ENABLE_SCRIPTED_PROVIDER": "true",
        "INGEST_IN_APP": "false",
        "RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
        "RATE_LIMIT_PER_MINUTE_IP": "0",
        "TRUSTED_PROXIES": "127.0.0.1",  # nginx forwards the client's address
        "INSTANCE_HEARTBEAT_SECONDS": "0.5",
        "INSTANCE_TIMEOUT_SECONDS": "2",
        "STREAM_HEARTBEAT_SECONDS": "1",
        "LOG_LEVEL": os.environ.get("MI_LOG_LEVEL", "WARNING"),
        "HF_HUB_OFFLINE": "1",  # the embedding model is packaged: never look for it online
        "DATA_DIR": str(tmp_path / "data"),
    }
    engine = create_async_engine(cluster_db)
    try:
        with run_cluster(tmp_path, env) as cluster:
            await exercise(cluster, engine)
    finally:
        await engine.dispose()
    print(f"multi-instance test: {time.monotonic() - started:.1f} s")


async def exercise(cluster: Cluster, engine: AsyncEngine) -> None:
    # --- the migrations ran once (instances, workers and `users create` all started
    # together on the empty database): one head revision, nobody failed
    async with engine.connect() as conn:
        versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    assert versions == [(head_revision(),)]
    keys = cluster.keys

    def auth(user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[user]}"}

    async with httpx.AsyncClient(timeout=30) as http, AsyncExitStack() as streams:
        # --- uploads through the proxy (checked at the end: the workers ingest meanwhile)
        file_ids = []
        for n in range(4):
            content = f"Document {n}. " + f"The instance test number {n} says hello. " * 30
            r = await http.post(
                f"{cluster.proxy}/api/v1/files/upload",
                files={"file": (f"doc{n}.txt", content.encode(), "text/plain")},
                headers=auth("bob"),
            )
            assert r.status_code == 201, r.text
            file_ids.append(r.json()["id"])

        # --- events posted to an instance, and re-sent to another, are stored once
        r = await http.post(
            f"{cluster.proxy}/api/v1/sessions",
            json={"session_id": "bob:session"},
            headers=auth("bob"),
        )
        assert r.status_code in (200, 201), r.text
        sent = 0
        for i in range(6):
            batch = [
                {"event_id": uuid.uuid4().hex, "t": 1_700_000_000_000 + n, "type": "click"}
                for n in range(10)
            ]
            body = {"session_id": "bob:session", "events": batch}
            first = await http.post(
                f"{cluster.url(i % 3)}/api/v1/events", json=body, headers=auth("bob")
            )
            again = await http.post(
                f"{cluster.url((i + 1) % 3)}/api/v1/events", json=body, headers=auth("bob")
            )
            assert first.status_code == again.status_code == 200, (first.text, again.text)
            assert len(first.json()["accepted"]) == 10 and len(again.json()["duplicates"]) == 10
            sent += 10
        stored = select(func.count()).select_from(Event).where(Event.type == "click")
        assert await wait_for(engine, stored, sent, within=1) == sent

        # --- a stream started on instance 0, resumed on 1, cancelled through 2
        ask = {"query": "a long answer", "model_provider": "scripted", "model_name": "slow"}
        async with http.stream(
            "POST", f"{cluster.url(0)}/api/v1/query/stream", json=ask, headers=auth("alice")
        ) as r:
            assert r.status_code == 200
            stream_id, query_id = r.headers["x-stream-id"], r.headers["x-query-id"]
            head = await read_until(r, {"thought", "token"})
        last = head[-1][0]
        resume_headers = {**auth("alice"), "Last-Event-ID": str(last)}
        async with http.stream(
            "GET", f"{cluster.url(1)}/api/v1/query/stream/{stream_id}", headers=resume_headers
        ) as r:
            assert r.status_code == 200
            more = await read_until(r, {"thought", "token"}, limit=2)
            assert more[0][0] == last + 1  # nothing lost or repeated between instances
            cancel = await http.post(
                f"{cluster.url(2)}/api/v1/query/{stream_id}/cancel", headers=auth("alice")
            )
            assert cancel.status_code == 200 and cancel.json()["cancelled"] is True
            rest = await read_until(r, {"done", "error"})
        assert rest[-1][1] == "done" and '"status":"cancelled"' in rest[-1][2]
        cancelled = select(Query.status).where(Query.id == query_id)
        assert await wait_for(engine, cancelled, "cancelled") == "cancelled"

        # --- kill -9 one instance mid-stream, with another stream running elsewhere
        owners = {}
        for i in range(3):
            r = await http.get(f"{cluster.url(i)}/api/v1/status", headers=auth("ops"))
            owners[r.json()["process"]["instance_id"]] = i
        turn = {**ask, "session_id": "alice:session"}
        opened: list[Opened] = []
        for _ in range(6):  # until two streams run on different instances
            r = await streams.enter_async_context(
                http.stream(
                    "POST",
                    f"{cluster.proxy}/api/v1/query/stream",
                    json=turn,
                    headers=auth("alice"),
                )
            )
            assert r.status_code == 200
            frames = await read_until(r, {"start"})
            instance = owners[orjson.loads(frames[0][2])["instance_id"]]
            opened.append(
                Opened(r, r.headers["x-stream-id"], r.headers["x-query-id"], instance, frames)
            )
            if len({o.instance for o in opened}) == 2:
                break
        doomed = opened[0]
        survivor = next(o for o in opened if o.instance != doomed.instance)
        finishing = asyncio.create_task(read_until(survivor.response, {"done", "error"}))
        os.killpg(cluster.servers[doomed.instance].pid, signal.SIGKILL)
        cluster.servers[doomed.instance].wait(10)
        # Its connection through the proxy breaks; the client resumes through the proxy
        # (so on another instance) and is told that the answer was interrupted.
        doomed.frames += await read_until(doomed.response, {"done", "error"})
        seen = max(f[0] for f in doomed.frames)
        async with http.stream(
            "GET",
            f"{cluster.proxy}/api/v1/query/stream/{doomed.stream_id}",
            headers={**auth("alice"), "Last-Event-ID": str(seen)},
        ) as r:
            assert r.status_code == 200, await r.aread()
            tail = await read_until(r, {"done", "error"})
        assert tail[-1][1] == "error" and '"code":"interrupted"' in tail[-1][2], tail
        interrupted = select(Query.status).where(Query.id == doomed.query_id)
        assert await wait_for(engine, interrupted, "interrupted", within=10) == "interrupted"
        async with engine.connect() as conn:
            prompts = (
                (
                    await conn.execute(
                        select(Event.data).where(
                            Event.session_id == "alice:session", Event.type == "prompt"
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert doomed.query_id in {p["query_id"] for p in prompts}

        # --- one rate-limit budget across the (two remaining) instances
        alive = [i for i in range(3) if i != doomed.instance]
        codes = []
        for n in range(RATE_LIMIT + 6):
            r = await http.get(f"{cluster.url(alive[n % 2])}/api/v1/files", headers=auth("carol"))
            codes.append(r.status_code)
        assert codes.count(200) == RATE_LIMIT and codes.count(429) == 6, codes

        # --- the uploads: ready, each claimed once, its chunks written once
        ready = select(func.count()).select_from(File).where(File.status == "ready")
        assert await wait_for(engine, ready, len(file_ids), within=40) == len(file_ids)
        async with engine.connect() as conn:
            files = (await conn.execute(select(File.id, File.attempts, File.chunk_count))).all()
            per_file = select(FileChunk.file_id, func.count()).group_by(FileChunk.file_id)
            chunks = {row[0]: row[1] for row in (await conn.execute(per_file)).all()}
        assert {f.id for f in files} == set(file_ids)
        assert all(f.attempts == 1 and f.chunk_count > 0 for f in files), files
        assert all(chunks[f.id] == f.chunk_count for f in files)

        # --- the stream on the other instance finished normally; nothing else was lost
        done = await asyncio.wait_for(finishing, 30)
        assert done[-1][1] == "done" and '"status":"ok"' in done[-1][2], done
        ok = select(Query.status).where(Query.id == survivor.query_id)
        assert await wait_for(engine, ok, "ok") == "ok"
        assert await wait_for(engine, stored, sent, within=1) == sent
