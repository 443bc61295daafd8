"""The web UI in a real browser: the platform served by uvicorn on 127.0.0.1 (in a thread,
scripted streaming provider, fresh SQLite, every API request noted), Debian's Chromium
(fixtures in tests/web/conftest.py), and what tests do on a page: sign in, ask, read the
last answer, pick a model, drop a file, take a screenshot, find the page's session."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from llm_platform.main import create_app
from llm_platform.web.ui import load_bundle
from tests.support.settings import sqlite_settings
from tests.support.system import require_system
from tests.support.uvicorn_server import run_server

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
    require_system(condition, why)  # skipped off CI, a failure on CI (tests/support/system.py)


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

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`llm-platform ARGS...` on this server's database, as an operator would run it."""
        cli = Path(sys.executable).parent / "llm-platform"
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.db_path}",
            "DATA_DIR": str(self.db_path.parent),
        }
        return subprocess.run(
            [str(cli), *args], env=env, capture_output=True, text=True, timeout=120
        )

    def key(self, user_id: str = "researcher", role: str = "admin") -> str:
        """A new API key made with the CLI, as an operator would."""
        result = self.cli("users", "create", user_id, "--role", role)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    def status(self, method: str, path: str, key: str, body: Any = None) -> int:
        """The HTTP status of one API call with `key` (whether the server has a route)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                return int(res.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

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


@contextmanager
def serve_platform(tmp: Path, **overrides: Any) -> Iterator[LiveServer]:
    """The platform on a free port, with the scripted provider and a fresh SQLite database."""
    require(load_bundle() is not None, "web bundle not built: run `make install`")
    db_path = tmp / "e2e.db"
    settings = sqlite_settings(
        tmp,
        db_path.name,
        RATE_LIMIT_NEW_PARTICIPANTS_PER_MINUTE_IP=0,  # a new participant per browser context
        ENABLE_SCRIPTED_PROVIDER=True,
        QUERY_LOG_WAIT=True,
        # The web app names its stream format, so it works with the old client's default on;
        # it identifies its users with tokens, never with a client-named X-User-ID.
        LEGACY_CLIENT_COMPAT=True,
        **{"TRUST_CLIENT_USER_ID": False, **overrides},
    )
    app = create_app(settings)
    seen: list[SeenRequest] = []
    app.add_middleware(RequestLog, seen=seen)
    with run_server(app) as (host, port):
        yield LiveServer(url=f"http://{host}:{port}", app=app, db_path=db_path, requests=seen)


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


def ask(page: Any, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def last_answer(page: Any) -> Any:
    return page.locator("article.msg.assistant").last


def pick_model(page: Any, key: str) -> None:
    page.locator("#model-select").select_option(key)


def session_of(page: Any) -> str:
    """The conversation (session) the page records into, once it has started one."""
    # (polled: the page's CSP forbids the string evaluation wait_for_function uses)
    deadline = time.monotonic() + 15
    while (sid := page.evaluate("localStorage.getItem('llmp.current_session')")) is None:
        assert time.monotonic() < deadline, "the page started no session"
        page.wait_for_timeout(50)
    return str(sid)
