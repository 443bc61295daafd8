"""The web app against a server with AUTH_MODE=api_key: sign in with a key made by
`llm-platform users create`, every request carries it (stream, upload, events, the beacon's
keepalive fetch, exports), data belongs to the key's user; wrong, revoked keys and sign-out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.support.browser import (
    LiveServer,
    ask,
    drop_file,
    last_answer,
    pick_model,
    screenshot,
    serve_platform,
    session_of,
)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """This module's server (the `page` fixture uses it) requires API keys."""
    with serve_platform(tmp_path_factory.mktemp("e2e-keys"), AUTH_MODE="api_key") as server:
        yield server


@dataclass
class Issued:
    user: str
    key_id: str
    key: str


def cli(live: LiveServer, *args: str) -> str:
    """The real command line, against the test server's database."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{live.db_path}",
        "DATA_DIR": str(live.db_path.parent / "data"),
        "LOG_LEVEL": "WARNING",
    }
    exe = Path(sys.executable).with_name("llm-platform")
    done = subprocess.run(
        [str(exe), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def create_key(live: LiveServer, user: str) -> Issued:
    head, key = cli(live, "users", "create", user).strip().splitlines()[-2:]
    fields = dict(part.split("=", 1) for part in head.split())
    return Issued(user=user, key_id=fields["key_id"], key=key)


def sign_in(page: Any, key: str) -> None:
    form = page.get_by_test_id("signin")
    form.get_by_label("API key").fill(key)
    form.get_by_role("button", name="Sign in").click()


def api_requests(live: LiveServer, since: int) -> list[Any]:
    return [r for r in live.requests[since:] if r.path != "/api/v1/auth/me"]


def test_sign_in_then_everything_is_the_keys_user(page: Any, live_server: LiveServer) -> None:
    alice = create_key(live_server, "alice")
    page.goto("/")
    form = page.get_by_test_id("signin")
    expect(form).to_be_visible()
    expect(page.get_by_role("textbox", name="Message")).to_have_count(0)
    assert [r.path for r in live_server.requests] == []  # nothing asked before a key

    # A wrong key: a clear error, nothing stored.
    sign_in(page, "lp_not-a-real-key")
    expect(form.get_by_test_id("signin-error")).to_contain_text("not accepted")
    expect(form.get_by_test_id("signin-error")).to_contain_text("Invalid or revoked API key")
    assert page.evaluate("localStorage.getItem('llmp.api_key')") is None
    screenshot(page, "signin-error")

    since = len(live_server.requests)
    sign_in(page, alice.key)
    expect(page.get_by_test_id("account")).to_contain_text("Signed in as alice")
    pick_model(page, "scripted:echo")
    ask(page, "Who am I talking as?")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer.locator(".markdown")).to_have_text("You said: Who am I talking as?")
    sid = session_of(page)
    query_id = answer.get_attribute("data-query-id")

    # A file dropped on the conversation: uploaded with the key, owned by alice.
    drop_file(page, "[data-testid=messages]", "alice.txt", "text/plain", b"Alice likes tea.")
    expect(page.locator(".file-item", has_text="alice.txt")).to_be_visible()
    screenshot(page, "chat-signed-in")

    # The conversation, the logged call, the file and the events are alice's.
    assert live_server.sql("SELECT user_id FROM sessions WHERE id = ?", sid) == [("alice",)]
    assert live_server.sql("SELECT user_id FROM queries WHERE id = ?", query_id) == [("alice",)]
    assert live_server.sql("SELECT user_id FROM files WHERE name = 'alice.txt'") == [("alice",)]
    rows = live_server.wait_sql(
        "SELECT e.type, s.user_id FROM events e JOIN sessions s ON s.id = e.session_id "
        "WHERE e.session_id = ?",
        lambda r: {"query_submit", "response_complete", "file_upload"} <= {t for t, _ in r},
        sid,
    )
    assert {"query_submit", "response_complete", "file_upload"} <= {t for t, _ in rows}
    assert {u for _, u in rows} == {"alice"}

    # Every request carried the key (and no anonymous id); none was refused.
    seen = api_requests(live_server, since)
    paths = {r.path for r in seen}
    assert {"/api/v1/models", "/api/v1/sessions", "/api/v1/events", "/api/v1/files/upload"} <= (
        paths
    )
    assert "/api/v1/query/stream" in paths
    for r in seen:
        assert r.headers.get("authorization") == f"Bearer {alice.key}", (r.method, r.path)
        assert "x-user-id" not in r.headers, r.path
        assert (r.status or 200) < 400, (r.method, r.path, r.status)  # (None: in flight)

    # An export link (a plain link sends no key): fetched with the key and saved.
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_test_id("filter-session").fill(sid)
    page.get_by_role("button", name="Filter").click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Session export (CSV)").click()
    assert info.value.suggested_filename == f"session-{sid.replace(':', '_')}.csv"
    assert sid in Path(info.value.path()).read_text()

    # Still signed in after a reload. The user leaves the site: the last events go out with
    # the key (a keepalive fetch: a beacon cannot carry the Authorization header).
    page.reload()
    expect(page.get_by_test_id("account")).to_contain_text("Signed in as alice")
    page.get_by_role("link", name="Chat").click()
    expect(page).to_have_url(f"{live_server.url}/c/{quote(sid, safe='')}")
    expect(page.locator("article.msg")).to_have_count(2)
    dwell = "SELECT count(*) FROM events WHERE session_id = ? AND type = 'dwell'"
    live_server.wait_sql(dwell, lambda r: r[0][0] > 0, sid)  # the reload's are in
    dwells = live_server.sql(dwell, sid)[0][0]
    before = len(live_server.requests)
    page.goto("about:blank")
    assert live_server.wait_sql(dwell, lambda r: r[0][0] > dwells, sid)[0][0] > dwells
    posts = [r for r in live_server.requests[before:] if r.path == "/api/v1/events"]
    assert posts and all(r.headers.get("authorization") == f"Bearer {alice.key}" for r in posts)
    # Nothing else was started on the way (one conversation, all events in it).
    assert live_server.sql("SELECT count(*) FROM sessions WHERE user_id = 'alice'") == [(1,)]


def test_revoked_key_signs_out_and_sign_out_forgets(browser: Any, live_server: LiveServer) -> None:
    bob = create_key(live_server, "bob")
    carol = create_key(live_server, "carol")
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/")
    sign_in(page, bob.key)
    expect(page.get_by_test_id("account")).to_contain_text("Signed in as bob")
    pick_model(page, "scripted:echo")
    ask(page, "Bob's question")
    expect(last_answer(page)).to_have_attribute("data-status", "done")

    # The key is revoked: the next request (here the tracker's next batch, after a click) is
    # refused and the app asks for a key again, saying why.
    cli(live_server, "users", "revoke-key", bob.key_id)
    page.evaluate("document.body.click()")
    reason = page.get_by_test_id("signin-reason")
    expect(reason).to_contain_text("You were signed out: Invalid or revoked API key")
    assert page.evaluate("localStorage.getItem('llmp.api_key')") is None

    # Carol signs in: bob's conversation is not hers, and not shown.
    sign_in(page, carol.key)
    expect(page.get_by_test_id("account")).to_contain_text("Signed in as carol")
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    expect(page.locator(".conv-title", has_text="Bob's question")).to_have_count(0)
    carol_sid = session_of(page)
    owner = live_server.wait_sql("SELECT user_id FROM sessions WHERE id = ?", bool, carol_sid)
    assert owner == [("carol",)]

    # Sign out: the key is forgotten, the sign-in form is back (also after a reload).
    with page.expect_navigation():  # a fresh page: nothing of carol's stays in memory
        page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_test_id("signin")).to_be_visible()
    assert page.evaluate("localStorage.getItem('llmp.api_key')") is None
    page.reload()
    expect(page.get_by_test_id("signin")).to_be_visible()
    # The sign-out was recorded under carol before the key was dropped.
    rows = live_server.wait_sql(
        "SELECT data FROM events WHERE session_id = ? AND type = 'sign_out'", bool, carol_sid
    )
    assert rows and json.loads(rows[0][0])["path"]
    context.close()
    assert not errors, errors
