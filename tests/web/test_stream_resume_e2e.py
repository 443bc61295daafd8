"""A stream whose connection drops mid-answer, in a real browser: the server keeps
generating, the page reconnects with GET /api/v1/query/stream/{id} + Last-Event-ID and the
answer ends complete, each token exactly once."""

from __future__ import annotations

import contextlib
import itertools
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import LiveServer, ask, last_answer, pick_model, screenshot

# scripted:slow answers "You said: <query>" then "and so on" x 20, a word every 200 ms.
QUESTION = "Count slowly"
ANSWER = "You said: Count slowly " + "and so on " * 20


class CuttableProxy:
    """A TCP proxy in front of the server whose open connections the test can cut (reset),
    as a network drop does, while the server goes on."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Reset every open connection (RST, as when the network drops)."""
        with self.lock:
            victims, self.open = self.open, []
        for s in victims:
            with contextlib.suppress(OSError):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.shutdown(socket.SHUT_RDWR)  # (wakes the pump blocked in recv)
                s.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture
def proxied_page(browser: Any, live_server: LiveServer) -> Iterator[tuple[Any, CuttableProxy]]:
    proxy = CuttableProxy(live_server.url)
    context = browser.new_context(base_url=proxy.url, viewport={"width": 1280, "height": 820})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page, proxy
    finally:
        context.close()
        proxy.close()
    assert not errors, errors


def record_answer_text(page: Any) -> None:
    page.evaluate(
        """() => {
          window.__texts = [];
          new MutationObserver(() => {
            const a = [...document.querySelectorAll('article.msg.assistant')].pop();
            const md = a && a.querySelector('.markdown');
            const t = md ? md.textContent.trim() : '';
            if (window.__texts[window.__texts.length - 1] !== t) window.__texts.push(t);
          }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )


def test_stream_resumes_after_the_connection_drops(
    proxied_page: tuple[Any, CuttableProxy], live_server: LiveServer
) -> None:
    page, proxy = proxied_page
    page.goto("/")
    pick_model(page, "scripted:slow")
    record_answer_text(page)
    ask(page, QUESTION)
    answer = last_answer(page)
    md = answer.locator(".markdown")
    expect(md).to_contain_text("You said: Count")

    # The network goes away mid-answer: the connections drop (the fetch reading the stream
    # fails) and the browser is offline for a while; the page waits for it to come back.
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.context.set_offline(True)
    proxy.cut()
    expect(answer.get_by_test_id("reconnecting")).to_be_visible()
    expect(answer).to_have_attribute("data-status", "streaming")
    screenshot(page, "stream-reconnecting")
    at_cut = md.inner_text()
    page.wait_for_timeout(1500)  # the server writes ~7 more words meanwhile
    assert md.inner_text() == at_cut
    # Only the cut stream failed: no reconnection was attempted (and lost) while offline.
    assert [u for u in failed if "/query/stream" in u] == [
        f"{proxy.url}/api/v1/query/stream?format=platform"
    ]
    seen_before = len(live_server.requests)

    page.context.set_offline(False)
    expect(answer).to_have_attribute("data-status", "done", timeout=30_000)
    expect(answer.get_by_test_id("reconnecting")).to_have_count(0)
    expect(md).to_have_text(ANSWER.strip())

    # It resumed once, from the last frame it had, as the same user.
    resumes = [
        r for r in live_server.requests[seen_before:] if r.path.startswith("/api/v1/query/stream/")
    ]
    assert len(resumes) == 1, [(r.method, r.path, r.status) for r in resumes]
    resume = resumes[0]
    assert resume.method == "GET" and resume.status == 200
    assert int(resume.headers["last-event-id"]) > 0
    assert resume.headers["authorization"].startswith("Bearer pt_")
    post = [r for r in live_server.requests if r.path == "/api/v1/query/stream"][-1]
    assert resume.headers["authorization"] == post.headers["authorization"]

    # Every state of the answer extends the previous one (nothing lost, nothing repeated),
    # and the words written while offline came at once on reconnection (the replay).
    texts: list[str] = page.evaluate("window.__texts")
    assert all(b.startswith(a) for a, b in itertools.pairwise(texts)), texts
    after_cut = [t for t in texts if len(t) > len(at_cut)]
    replayed = after_cut[0][len(at_cut) :].split()
    assert len(replayed) >= 3, f"expected a burst of replayed words, got {replayed}"

    # The server's log of the call holds the same, complete answer; the drop is recorded.
    query_id = answer.get_attribute("data-query-id")
    rows = live_server.sql("SELECT status, response_text FROM queries WHERE id = ?", query_id)
    assert rows == [("ok", ANSWER)]
    message_id = answer.get_attribute("data-message-id")
    reconnects = live_server.wait_sql(
        "SELECT data FROM events WHERE type = 'stream_reconnect' AND data LIKE ?",
        bool,
        f"%{message_id}%",
    )
    assert len(reconnects) == 1
