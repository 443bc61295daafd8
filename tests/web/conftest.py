"""Browser end-to-end fixtures: a real uvicorn server on 127.0.0.1 (in a thread, with the
scripted streaming provider) and Debian's Chromium driven by Playwright.

Chromium and the built web bundle are required on CI; elsewhere their absence skips these
tests with the reason.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from llm_platform.core.config import Settings
from llm_platform.main import create_app
from llm_platform.web.ui import load_bundle
from tests.system import require_system

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def require(condition: bool, why: str) -> None:
    require_system(condition, why)  # skipped off CI, a failure on CI (tests/system.py)


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    status: int | None = None


class RequestLog:
    """ASGI middleware noting every API request (to tell beacons from fetches)."""

    def __init__(self, app: Any, seen: list[SeenRequest]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        entry = SeenRequest(
            scope["method"],
            scope["path"],
            {k.decode().lower(): v.decode() for k, v in scope["headers"]},
        )
        self.seen.append(entry)

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            await send(message)

        await self.app(scope, receive, recording_send)


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    db_path: Path
    requests: list[SeenRequest]

    def key(self, user_id: str = "researcher", role: str = "admin") -> str:
        """A new API key made with the CLI, as an operator would."""
        import subprocess
        import sys

        cli = Path(sys.executable).parent / "llm-platform"
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.db_path}",
            "DATA_DIR": str(self.db_path.parent),
        }
        result = subprocess.run(
            [str(cli), "users", "create", user_id, "--role", role],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        # The server's own SQLite library (it runs in this process): a second copy of SQLite
        # closing its connection would remove the WAL index the server has mapped.
        conn = self.app.state.platform.db.sqlite.connect(str(self.db_path))
        try:
            return list(conn.execute(query, params).fetchall())
        finally:
            conn.close()

    def wait_sql(
        self, query: str, predicate: Any, *params: Any, timeout: float = 10.0
    ) -> list[tuple[Any, ...]]:
        """Poll until `predicate(rows)` holds (the browser sends in the background)."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.sql(query, *params)
            if predicate(rows) or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)


def _serve(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@contextmanager
def serve_platform(tmp: Path, **overrides: Any) -> Iterator[LiveServer]:
    """The platform on a free port, with the scripted provider and a fresh SQLite database."""
    require(load_bundle() is not None, "web bundle not built: run `make install`")
    db_path = tmp / "e2e.db"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        DATA_DIR=tmp / "data",
        DATABASE_URL=f"sqlite+aiosqlite:///{db_path}",
        LOG_LEVEL="WARNING",
        RATE_LIMIT_PER_MINUTE=0,
        RATE_LIMIT_PER_MINUTE_IP=0,
        RATE_LIMIT_NEW_PARTICIPANTS_PER_MINUTE_IP=0,  # a new participant per browser context
        ENABLE_SCRIPTED_PROVIDER=True,
        QUERY_LOG_WAIT=True,
        WARM_START=False,
        # The web app names its stream format, so it works with the old client's default on;
        # it identifies its users with tokens, never with a client-named X-User-ID.
        LEGACY_CLIENT_COMPAT=True,
        **{"TRUST_CLIENT_USER_ID": False, **overrides},
    )
    app = create_app(settings)
    seen: list[SeenRequest] = []
    app.add_middleware(RequestLog, seen=seen)
    server, thread, url = _serve(app)
    try:
        yield LiveServer(url=url, app=app, db_path=db_path, requests=seen)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve_platform(tmp_path_factory.mktemp("e2e")) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require(Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # A new browser first mints its participant token, then loads; on a busy 2-core machine
    # that can take longer than the 5 s an assertion waits by default.
    sync_api.expect.set_options(timeout=15_000)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh browser profile (new anonymous user) per test; page errors fail the test."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 820}, color_scheme="light"
    )
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.set_default_timeout(15_000)
    yield pg
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def screenshot(page: Any, name: str, docs: bool = False) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    if docs and os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(path, ROOT / "docs" / f"{name}.png")
    return path


def drop_file(page: Any, selector: str, name: str, mime: str, data: bytes) -> None:
    """Drag-and-drop a file from outside the page (a DataTransfer built in the page)."""
    transfer = page.evaluate_handle(
        """([name, mime, b64]) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], name, { type: mime }));
          return dt;
        }""",
        [name, mime, base64.b64encode(data).decode()],
    )
    page.dispatch_event(selector, "dragover", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def sign_in(page: Any, key: str) -> None:
    """The operator's sign-in link (`/#key=...`, as `llm-platform serve` prints it)."""
    page.goto(f"/#key={key}")
    page.get_by_test_id("account").wait_for()
    assert "key=" not in page.url  # the key leaves the address bar
