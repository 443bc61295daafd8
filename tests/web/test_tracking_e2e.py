"""Research event tracking in a real browser: what reaches the database, tied to messages,
through a server outage (queued in localStorage, retried) and a closing tab (beacon)."""

from __future__ import annotations

import json
import time
from typing import Any

from playwright.sync_api import expect

from tests.support.browser import LiveServer, ask, last_answer, pick_model, session_of


def events(live: LiveServer, session_id: str) -> list[tuple[str, dict[str, Any]]]:
    rows = live.sql("SELECT type, data FROM events WHERE session_id = ? ORDER BY id", session_id)
    return [(t, json.loads(d)) for t, d in rows]


def api_calls(live: LiveServer) -> list[tuple[str, str, int | None]]:
    return [(r.method, r.path, r.status) for r in live.requests[-30:]]


def queued(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate("JSON.parse(localStorage.getItem('llmp.events.queue') || '[]')"))


def test_interactions_reach_the_database_tied_to_messages(
    page: Any, live_server: LiveServer
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/")
    pick_model(page, "scripted:echo")
    ask(page, "Why is the sky blue? " + "Explain in detail. " * 5)
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "done")
    message_id = answer.get_attribute("data-message-id")
    query_id = answer.get_attribute("data-query-id")
    answer.get_by_test_id("thinking-summary").click()  # open
    answer.get_by_test_id("thinking-summary").click()  # close
    page.get_by_role("button", name="Copy answer").click()
    page.get_by_test_id("messages").evaluate("el => { el.scrollTop = 0; }")
    page.mouse.wheel(0, 300)
    sid = session_of(page)

    wanted = {
        "page_load", "session_start", "page_view", "conversation_open", "click", "query_submit",
        "response_complete", "thinking_open", "thinking_close", "copy",
    }  # fmt: skip
    live_server.wait_sql(
        "SELECT DISTINCT type FROM events WHERE session_id = ?",
        lambda rows: wanted <= {r[0] for r in rows},
        sid,
    )
    got = events(live_server, sid)
    types = [t for t, _ in got]
    assert wanted <= set(types), sorted(set(types))
    assert len(got) >= 12
    # Acknowledged events leave the browser's queue (newer ones may still be waiting).
    stored = {
        r[0] for r in live_server.sql("SELECT event_id FROM events WHERE session_id = ?", sid)
    }
    deadline = time.monotonic() + 5
    while stored & {q["event"]["event_id"] for q in queued(page)}:
        assert time.monotonic() < deadline, "acknowledged events still queued"
        page.wait_for_timeout(100)

    by_type: dict[str, list[dict[str, Any]]] = {}
    for t, d in got:
        by_type.setdefault(t, []).append(d)
    assert by_type["query_submit"][0]["message_id"] == message_id
    assert by_type["query_submit"][0]["model"] == "echo"
    assert by_type["response_complete"][0]["query_id"] == query_id
    assert by_type["thinking_open"][0]["message_id"] == message_id
    assert by_type["thinking_close"][0]["message_id"] == message_id
    assert any(c.get("message_id") == message_id for c in by_type["copy"])
    clicks = by_type["click"]
    assert any(
        c.get("target") == "thinking-toggle" and c.get("message_id") == message_id for c in clicks
    )
    # The environment is recorded on the session and on the page load.
    env = json.loads(live_server.sql("SELECT environment FROM sessions WHERE id = ?", sid)[0][0])
    assert env["viewport"] == {"width": 1280, "height": 820}
    assert env["browser"].startswith(("Chrome", "HeadlessChrome"))
    assert env["language"] and env["os"] and env["device"] == "desktop"
    assert by_type["page_load"][0]["environment"]["viewport"]["width"] == 1280


def test_events_survive_an_outage_and_a_closed_tab(page: Any, live_server: LiveServer) -> None:
    page.goto("/")
    expect(page.get_by_test_id("tracking-notice")).to_be_visible()
    sid = session_of(page)
    stored = live_server.wait_sql(
        "SELECT count(*) FROM events WHERE session_id = ?", lambda r: r[0][0] > 0, sid
    )
    assert stored[0][0] > 0, f"nothing stored; API calls: {api_calls(live_server)}"

    # The server becomes unreachable for event posts: events pile up in localStorage.
    attempts: list[str] = []

    def refuse(route: Any) -> None:
        attempts.append(route.request.url)
        route.abort("connectionrefused")

    page.route("**/api/v1/events", refuse)
    for _ in range(5):
        page.get_by_test_id("files-toggle").click()
    deadline = time.monotonic() + 20
    while len(attempts) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # (route handlers run while Playwright waits)
    assert len(attempts) >= 2, "no retry while the server was unreachable"
    pending = queued(page)
    pending_ids = {q["event"]["event_id"] for q in pending}
    assert len(pending) >= 10
    # The queue is in localStorage: a reload would keep it. The server comes back:
    page.unroute("**/api/v1/events")
    rows = live_server.wait_sql(
        "SELECT event_id FROM events WHERE session_id = ?",
        lambda r: pending_ids <= {x[0] for x in r},
        sid,
        timeout=40,
    )
    assert pending_ids <= {x[0] for x in rows}, f"API calls: {api_calls(live_server)}"
    ids = [x[0] for x in rows]
    assert len(ids) == len(set(ids))

    # Closing the tab: the last events leave with sendBeacon (no flush timer has run yet).
    before = len(live_server.requests)
    page.get_by_role("link", name="Dashboard").click()
    page.close(run_before_unload=True)
    live_server.wait_sql(
        "SELECT type FROM events WHERE session_id = ? AND type = 'dwell'", bool, sid, timeout=20
    )
    beacons = [
        r
        for r in live_server.requests[before:]
        if r.path == "/api/v1/events" and "x-user-id" not in r.headers
    ]
    assert beacons, "no beacon was sent on page hide"
    assert beacons[-1].headers["content-type"] == "application/json"
    assert beacons[-1].status == 200
    types = {t for t, _ in events(live_server, sid)}
    assert {"dwell", "page_view"} <= types


def test_tracking_can_be_turned_off(browser: Any, live_server: LiveServer) -> None:
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto("/?tracking=off")
    expect(page.get_by_test_id("tracking-off")).to_be_visible()
    pick_model(page, "scripted:echo")
    ask(page, "Nobody is watching")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    sid = session_of(page)
    # Remembered for this browser.
    page.goto("/")
    expect(page.get_by_test_id("tracking-off")).to_be_visible()
    time.sleep(2.5)
    # No UI events (the server's own log of the model call, prompt and model_response, stays).
    ui_events = live_server.sql(
        "SELECT type FROM events WHERE session_id = ? AND type NOT IN ('prompt', 'model_response')",
        sid,
    )
    assert ui_events == []
    assert live_server.sql("SELECT environment FROM sessions WHERE id = ?", sid) == [("{}",)]
    context.close()

    # The notice's button turns it off too.
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto("/")
    page.get_by_role("button", name="Turn off").click()
    expect(page.get_by_test_id("tracking-off")).to_be_visible()
    assert page.evaluate("localStorage.getItem('llmp.tracking')") == "off"
    context.close()
