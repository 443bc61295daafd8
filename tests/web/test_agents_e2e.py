"""The agents in the web UI, in a real browser: steps shown live (collapsible, timed), option
buttons that send their label, product cards, the memories used; and the Memories page.

Each view is checked twice: against a scripted stream or API in the page (the UI alone, always
run), and against the server's own agents and memories API (skipped, with the reason, on a
server without them)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from tests.support import agent_stream
from tests.support.agent_stream import agent, done, tokens
from tests.support.browser import LiveServer, ask, last_answer, pick_model, screenshot

# Inside the page: every state of the last answer while it streams (steps shown, open, text).
RECORD_STATES = """() => {
  window.__states = [];
  new MutationObserver(() => {
    const a = [...document.querySelectorAll('article.msg.assistant')].pop();
    if (!a) return;
    const md = a.querySelector('.markdown');
    window.__states.push({
      status: a.dataset.status,
      chars: md ? md.textContent.length : 0,
      steps: a.querySelectorAll('[data-testid=agent-step]').length,
      running: a.querySelectorAll('[data-testid=agent-step][data-status=started]').length,
      open: Boolean(a.querySelector('details.agent-steps[open]')),
    });
  }).observe(document.body, {subtree: true, childList: true, characterData: true,
                              attributes: true});
}"""

HEADPHONES = [
    {
        "id": "p1",
        "title": "Quiet Commuter ANC",
        "price": 129.0,
        "currency": "USD",
        "category": "headphones",
        "url": "https://shop.example/p1",
        "image_url": None,
        "rating": 4.5,
        "description": "Over-ear, noise cancelling, 30 h battery.",
        "source": "local",
    },
    {
        "id": "p2",
        "title": "Budget Buds",
        "price": 39.9,
        "currency": "EUR",
        "category": "earbuds",
        "url": None,
        "image_url": None,
        "rating": None,
        "description": None,
        "source": "local",
    },
]

TURNS = [
    [
        agent("coordinator", "s1", "started", None, "", delay=50),
        agent("coordinator", "s1", "ok", 12.5, "intent shopping (rules, 0.95)", delay=250),
        agent("memory", "s2", "started", None, "", delay=50),
        (50, {"type": "memory", "used": [{"id": "m1", "text": "Prefers over-ear"}], "changes": []}),
        agent("memory", "s2", "ok", 40.0, "1 memory recalled", delay=250),
        agent("shopping", "s3", "started", None, "", delay=50),
        agent("shopping", "s3", "ok", 8.0, "asked for the use case", delay=250),
        (
            0,
            {
                "type": "options",
                "question": "What will you mostly use them for?",
                "field": "use_case",
                "options": ["Commuting", "Gym", "Studio work"],
            },
        ),
        *tokens("Happy to help. What will you mostly use them for?"),
        done("q-1"),
    ],
    [
        agent("coordinator", "t1", "ok", 3.0, "intent shopping (rules)", delay=50),
        agent("vision", "t2", "skipped", None, "no image"),
        agent("product", "t3", "started", None, "", delay=50),
        agent("product", "t3", "ok", 1234.0, "2 products", delay=200),
        agent("memory", "t4", "error", 5.0, "the memory store timed out"),
        (0, {"type": "products", "products": HEADPHONES}),
        (
            0,
            {
                "type": "memory",
                "used": [],
                "changes": [{"action": "add", "id": "m2", "text": "Commutes by train"}],
            },
        ),
        *tokens("Here are two picks for commuting."),
        done("q-2"),
    ],
]


def test_agent_steps_options_products_and_memories_in_the_chat(page: Any) -> None:
    agent_stream.install(page, TURNS)
    page.goto("/")
    page.evaluate(RECORD_STATES)
    ask(page, "I want new headphones")

    answer = page.locator("article.msg.assistant").first
    steps = answer.get_by_test_id("agent-step")
    # Live: the steps list opens before any answer text, a step running, then done.
    expect(answer.locator("details.agent-steps")).to_have_attribute("open", "")
    expect(steps.first).to_have_attribute("data-status", "ok")
    expect(answer).to_have_attribute("data-status", "done")
    states = page.evaluate("window.__states")
    before_text = [s for s in states if s["status"] == "streaming" and s["chars"] == 0]
    assert any(s["steps"] >= 1 and s["running"] >= 1 and s["open"] for s in before_text), states
    assert any(s["steps"] == 2 for s in before_text), "steps did not arrive one by one"
    # Collapsed once the answer started; the user opens it: one row per step, timed.
    details = answer.locator("details.agent-steps")
    expect(details).not_to_have_attribute("open", "")
    expect(answer.get_by_test_id("agent-steps-summary")).to_have_text("3 steps · 61 ms")
    answer.locator("details.agent-steps summary").click()
    expect(details).to_have_attribute("open", "")
    expect(steps).to_have_count(3)
    expect(steps.nth(0)).to_contain_text("coordinator")
    expect(steps.nth(0)).to_contain_text("intent shopping (rules, 0.95)")
    expect(steps.nth(0)).to_contain_text("13 ms")
    expect(answer.get_by_test_id("memory-chip")).to_have_text("Prefers over-ear")
    # The question is in the answer: only the buttons.
    options = answer.get_by_test_id("option")
    expect(options).to_have_text(["Commuting", "Gym", "Studio work"])
    expect(answer.get_by_test_id("options").locator(".options-question")).to_have_count(0)

    # An option sends its label as the next message, once.
    options.nth(0).click()
    expect(page.locator("article.msg.user .bubble").last).to_have_text("Commuting")
    bodies = agent_stream.stream_bodies(page)
    assert [b["query"] for b in bodies] == ["I want new headphones", "Commuting"]
    assert bodies[1]["history"][-1]["content"].startswith("Happy to help")
    for i in range(3):
        expect(options.nth(i)).to_be_disabled()
    expect(options.nth(0)).to_have_attribute("aria-pressed", "true")

    second = last_answer(page)
    expect(second).to_have_attribute("data-status", "done")
    expect(second.locator(".markdown")).to_have_text("Here are two picks for commuting.")
    cards = second.get_by_test_id("product-card")
    expect(cards).to_have_count(2)
    expect(cards.nth(0).get_by_test_id("product-title")).to_have_text("Quiet Commuter ANC")
    expect(cards.nth(0).get_by_test_id("product-price")).to_have_text("$129.00")
    expect(cards.nth(0)).to_contain_text("headphones")
    expect(cards.nth(0)).to_contain_text("★ 4.5")
    link = cards.nth(0).get_by_test_id("product-link")
    expect(link).to_have_attribute("href", "https://shop.example/p1")
    expect(link).to_have_attribute("rel", re.compile("noopener"))
    expect(cards.nth(1).get_by_test_id("product-price")).to_have_text("€39.90")
    expect(cards.nth(1).get_by_test_id("product-link")).to_have_count(0)
    # A failed and a skipped step are marked; the answer still came.
    second.locator("details.agent-steps summary").click()
    expect(second.locator("[data-testid=agent-step][data-status=error]")).to_contain_text(
        "the memory store timed out"
    )
    expect(second.locator("[data-testid=agent-step][data-status=skipped]")).to_contain_text(
        "vision"
    )
    expect(second.get_by_test_id("agent-steps-summary")).to_contain_text("1 failed")
    expect(second.get_by_test_id("memory-change")).to_have_text("Saved: Commutes by train")
    screenshot(page, "chat-agents", docs=True)


def _memory(i: int, text: str | None = None) -> dict[str, Any]:
    return {
        "id": f"m{i:03d}",
        "text": text or f"Memory number {i}",
        "kind": "fact",
        "source_session_id": None,
        "source_query_id": None,
        "source_time": None,
        "history": [],
        "created_at": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
        "updated_at": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
    }


class FakeMemories:
    """The memories API (contract shapes) answered in the browser: the UI alone."""

    def __init__(self) -> None:
        self.items = [_memory(i) for i in range(53)]
        self.items[7]["text"] = "I drink green tea every morning"
        self.enabled = True
        self.calls: list[tuple[str, str]] = []

    def handle(self, route: Any) -> None:
        req = route.request
        url = urlparse(req.url)
        path, query = url.path, parse_qs(url.query)
        body = json.loads(req.post_data) if req.post_data else None
        self.calls.append((req.method, path))

        def reply(status: int, payload: Any = None) -> None:
            route.fulfill(
                status=status,
                content_type="application/json",
                body="" if payload is None else json.dumps(payload),
            )

        if path == "/api/v1/memories/settings":
            if req.method == "PUT":
                self.enabled = bool(body["enabled"])
            return reply(200, {"enabled": self.enabled})
        if path == "/api/v1/memories/search":
            hits = [dict(m, score=0.8) for m in self.items if "tea" in m["text"]]
            return reply(200, {"items": hits})
        if path == "/api/v1/memories" and req.method == "GET":
            start = int(query.get("cursor", ["0"])[0])
            limit = int(query.get("limit", ["50"])[0])
            end = start + limit
            nxt = str(end) if end < len(self.items) else None
            return reply(200, {"items": self.items[start:end], "next_cursor": nxt})
        if path == "/api/v1/memories" and req.method == "POST":
            if "password" in body["text"]:
                return reply(
                    422, {"detail": "Not saved: looks like a credential", "type": "invalid"}
                )
            created = _memory(900, body["text"])
            self.items.insert(0, created)
            return reply(201, created)
        memory_id = path.rsplit("/", 1)[-1]
        found = next((m for m in self.items if m["id"] == memory_id), None)
        if found is None:
            return reply(404, {"detail": "Memory not found", "type": "not_found"})
        if req.method == "PATCH":
            found["history"] = [{"text": found["text"], "changed_at": "x", "reason": "user"}]
            found["text"] = body["text"]
            found["updated_at"] = "2026-02-01T00:00:00Z"
            return reply(200, found)
        if req.method == "DELETE":
            self.items.remove(found)
            return reply(204)
        return reply(405, {"detail": "Method not allowed"})


def test_memories_page_against_a_scripted_api(page: Any) -> None:
    api = FakeMemories()
    page.route(re.compile(r".*/api/v1/memories.*"), api.handle)
    page.goto("/")
    # The start page moves on to a new conversation (/c/...) once signed in: click after
    # that, or the move overrides the click.
    expect(page).to_have_url(re.compile(r"/c/"))
    page.get_by_role("link", name="Memories").click()
    expect(page.get_by_test_id("memories-page")).to_be_visible()
    items = page.get_by_test_id("memory-item")
    expect(items).to_have_count(50)
    expect(page.get_by_test_id("memory-enabled")).to_be_checked()
    screenshot(page, "memories", docs=True)
    page.get_by_test_id("memories-more").click()
    expect(items).to_have_count(53)
    expect(page.get_by_test_id("memories-more")).to_have_count(0)

    # Search by meaning, then back to the list.
    page.get_by_test_id("memory-search").fill("what do I have for breakfast")
    page.get_by_test_id("memory-search").press("Enter")
    expect(items).to_have_count(1)
    expect(items.first.get_by_test_id("memory-score")).to_have_text("match 0.80")
    page.get_by_test_id("memory-search-clear").click()
    expect(items).to_have_count(53)

    # Edit in place.
    tea = page.locator("[data-memory-id=m007]")
    tea.get_by_test_id("memory-edit").click()
    tea.get_by_test_id("memory-edit-text").fill("I drink black coffee every morning")
    tea.get_by_test_id("memory-save").click()
    expect(tea.get_by_test_id("memory-text")).to_have_text("I drink black coffee every morning")
    expect(tea).to_contain_text("1 earlier version")

    # Delete after a confirm ("Keep" keeps it).
    tea.get_by_test_id("memory-delete").click()
    tea.get_by_test_id("memory-delete-cancel").click()
    expect(items).to_have_count(53)
    tea.get_by_test_id("memory-delete").click()
    tea.get_by_test_id("memory-delete-confirm").click()
    expect(items).to_have_count(52)
    assert ("DELETE", "/api/v1/memories/m007") in api.calls

    # Add; the server's refusal is shown from its `detail`.
    page.get_by_test_id("memory-new").fill("My password is hunter2")
    page.get_by_test_id("memory-add").click()
    expect(page.get_by_test_id("memory-new-error")).to_have_text(
        "Not saved: looks like a credential"
    )
    page.get_by_test_id("memory-new").fill("I live in Lyon")
    page.get_by_test_id("memory-add").click()
    expect(items.first.get_by_test_id("memory-text")).to_have_text("I live in Lyon")
    expect(page.get_by_test_id("memory-new-error")).to_have_count(0)

    # Memory off, kept by the server.
    page.get_by_test_id("memory-enabled").uncheck()
    expect(page.get_by_test_id("memory-enabled")).not_to_be_checked()
    assert api.enabled is False
    page.reload()
    expect(page.get_by_test_id("memory-enabled")).not_to_be_checked()


# --- Against the server's own agents and memories (once they are merged) ----------------


def _require_route(live_server: LiveServer, method: str, path: str, body: Any = None) -> None:
    key = live_server.key("probe" + re.sub(r"[^a-z]+", "-", path))
    status = live_server.status(method, path, key, body)
    if status == 404:
        pytest.skip(f"this server has no {method} {path} (404): its feature is not merged yet")


def test_server_agents_steps_options_and_product_cards(page: Any, live_server: LiveServer) -> None:
    _require_route(live_server, "POST", "/api/v1/agents/route", {"message": "hello"})
    demo = live_server.cli("products", "demo", "--count", "60")
    assert demo.returncode == 0, demo.stderr
    page.goto("/")
    pick_model(page, "scripted:echo")
    page.evaluate(RECORD_STATES)
    ask(page, "I want to buy new headphones")

    # The interview: each question's first option, sent by its button, until products show.
    sent: list[str] = []
    for turn in range(5):
        answer = page.locator("article.msg.assistant").nth(turn)
        expect(answer).to_have_attribute("data-status", "done")
        if answer.get_by_test_id("product-card").count():
            break
        options = answer.get_by_test_id("option")
        assert options.count(), f"neither options nor products: {answer.inner_text()}"
        label = options.first.inner_text().strip()
        options.first.click()
        sent.append(label)
        expect(page.locator("article.msg.user .bubble").last).to_have_text(label)
        expect(options.first).to_be_disabled()
    assert sent, "the assistant asked nothing before showing products"
    cards = last_answer(page).get_by_test_id("product-card")
    expect(cards.first).to_be_visible()
    expect(cards.first.get_by_test_id("product-title")).not_to_have_text("")

    states = page.evaluate("window.__states")
    assert any(
        s["status"] == "streaming" and s["chars"] == 0 and s["steps"] >= 1 for s in states
    ), "no agent step was shown before the answer"
    first = page.locator("article.msg.assistant").first
    first.locator("details.agent-steps summary").click()
    expect(first.get_by_test_id("agent-step").first).to_be_visible()
    expect(first.get_by_test_id("agent-step").first).to_have_attribute(
        "data-status", re.compile("ok|error|skipped")
    )


def test_server_memories_page_lists_edits_and_deletes(page: Any, live_server: LiveServer) -> None:
    _require_route(live_server, "GET", "/api/v1/memories")
    page.goto("/memories")
    expect(page.get_by_test_id("memories-page")).to_be_visible()
    expect(page.get_by_test_id("memory-enabled")).to_be_checked()
    for text in ["I live in Lyon", "I drink green tea every morning", "My dog is called Rex"]:
        page.get_by_test_id("memory-new").fill(text)
        page.get_by_test_id("memory-add").click()
        expect(page.get_by_test_id("memory-new")).to_have_value("")
    items = page.get_by_test_id("memory-item")
    page.reload()
    expect(items).to_have_count(3)

    page.get_by_test_id("memory-search").fill("what do I have for breakfast")
    page.get_by_test_id("memory-search").press("Enter")
    expect(items.first.get_by_test_id("memory-text")).to_have_text(
        "I drink green tea every morning"
    )
    page.get_by_test_id("memory-search-clear").click()

    tea_id = items.filter(has_text="green tea").get_attribute("data-memory-id")
    tea = page.locator(f"[data-memory-id='{tea_id}']")  # its text is in a field while edited
    tea.get_by_test_id("memory-edit").click()
    tea.get_by_test_id("memory-edit-text").fill("I drink black coffee every morning")
    tea.get_by_test_id("memory-save").click()
    expect(items.filter(has_text="black coffee")).to_have_count(1)
    dog = items.filter(has_text="Rex")
    dog.get_by_test_id("memory-delete").click()
    dog.get_by_test_id("memory-delete-confirm").click()
    expect(items).to_have_count(2)
    rows = live_server.sql("SELECT text FROM memories ORDER BY text")
    assert [r[0] for r in rows] == ["I drink black coffee every morning", "I live in Lyon"]

    page.get_by_test_id("memory-enabled").uncheck()
    page.reload()
    expect(page.get_by_test_id("memory-enabled")).not_to_be_checked()
