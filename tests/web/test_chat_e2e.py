"""The chat in a real browser: streaming, thinking panel, stop, sanitised Markdown,
conversations reloaded from the server."""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import unquote

from playwright.sync_api import expect

from tests.support.browser import LiveServer, ask, last_answer, pick_model, screenshot


def test_chat_streams_tokens_and_shows_thinking(page: Any, live_server: LiveServer) -> None:
    page.goto("/")
    expect(page.get_by_test_id("tracking-notice")).to_be_visible()
    expect(page.locator("#model-select option")).not_to_have_count(0)
    pick_model(page, "scripted:echo")
    expect(page.get_by_test_id("model-caps")).to_contain_text("reasoning")
    expect(page.get_by_test_id("model-caps")).to_contain_text("vision")

    # Shift+Enter is a newline, Enter sends.
    # Record, inside the page, every state the answer goes through while it streams.
    page.evaluate(
        """() => {
          window.__states = [];
          new MutationObserver(() => {
            const a = [...document.querySelectorAll('article.msg.assistant')].pop();
            if (!a) return;
            const md = a.querySelector('.markdown');
            const summary = a.querySelector('[data-testid=thinking-summary]');
            window.__states.push({
              status: a.dataset.status,
              chars: md ? md.textContent.length : 0,
              summary: summary ? summary.textContent : null,
              open: Boolean(a.querySelector('details.thinking[open]')),
            });
          }).observe(document.body, {subtree: true, childList: true, characterData: true,
                                      attributes: true});
        }"""
    )
    # Shift+Enter is a newline, Enter sends.
    box = page.get_by_role("textbox", name="Message")
    box.fill("Tell me about the tides")
    box.press("Shift+Enter")
    assert box.input_value().endswith("\n")
    box.fill("Tell me about the tides please")
    box.press("Enter")

    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer.locator(".markdown")).to_have_text("You said: Tell me about the tides please")
    states = page.evaluate("window.__states")
    streaming = [s for s in states if s["status"] == "streaming"]
    # The thinking panel filled live, open, before any answer text...
    assert any(s["summary"] == "Thinking…" and s["open"] and s["chars"] == 0 for s in streaming)
    # ...then the answer grew token by token while still streaming.
    lengths = sorted({s["chars"] for s in streaming if s["chars"]})
    assert len(lengths) >= 3, f"answer did not grow token by token: {lengths}"

    # Then it collapses with its duration and reasoning-token count; the user reopens it.
    summary = answer.get_by_test_id("thinking-summary")
    expect(summary).to_contain_text("Thought for")
    expect(summary).to_contain_text("reasoning tokens")
    expect(answer.locator(".thinking")).not_to_have_attribute("open", "")
    summary.click()
    expect(answer.locator(".thinking")).to_have_attribute("open", "")
    expect(answer.locator(".thinking-steps li")).to_have_count(2)
    expect(answer.locator(".thinking-steps")).to_contain_text("I will repeat them back.")
    screenshot(page, "chat-thinking", docs=True)


def test_stop_cancels_the_stream(page: Any, live_server: LiveServer) -> None:
    page.goto("/")
    pick_model(page, "scripted:slow")
    ask(page, "Count slowly")
    answer = last_answer(page)
    expect(answer.locator(".markdown")).to_contain_text("You said")
    page.get_by_test_id("stop").click()
    expect(answer).to_have_attribute("data-status", "stopped")
    expect(answer.get_by_test_id("stopped-note")).to_be_visible()
    stopped_at = answer.locator(".markdown").inner_text()
    time.sleep(0.8)  # slow model: a token every 0.2 s; nothing more may arrive
    assert answer.locator(".markdown").inner_text() == stopped_at
    # The server stopped too: the call is logged as cancelled with its partial answer.
    rows = live_server.wait_sql(
        "SELECT status, response_text FROM queries WHERE model = 'slow'",
        lambda r: bool(r) and r[-1][0] == "cancelled",
    )
    assert rows and rows[-1][0] == "cancelled"
    assert rows[-1][1].startswith("You said")
    assert "and so on and so on and so on and so on and so on and so on" not in rows[-1][1]
    expect(page.get_by_test_id("send")).to_be_visible()


def test_model_output_cannot_inject_html(page: Any, live_server: LiveServer) -> None:
    page.goto("/")
    pick_model(page, "scripted:echo")
    payload = (
        '<img src=x onerror="window.__pwned=1"> '
        "[click me](javascript:window.__pwned=2) "
        '<svg onload="window.__pwned=3"><script>window.__pwned=4</script></svg> '
        '<a href="javascript:window.__pwned=5">x</a> **bold**'
    )
    ask(page, payload)
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "done")
    md = answer.locator(".markdown")
    # Shown as text, Markdown still rendered, nothing executed.
    expect(md).to_contain_text('<img src=x onerror="window.__pwned=1">')
    expect(md.locator("strong")).to_have_text("bold")
    assert md.locator("img, svg, script, iframe, [onerror], [onload]").count() == 0
    hrefs = md.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert all(h is None or not h.lower().startswith("javascript") for h in hrefs), hrefs
    md.locator("a", has_text="click me").click()
    time.sleep(0.3)
    assert page.evaluate("window.__pwned") is None
    # The user's own bubble shows the text too, as text.
    expect(page.locator("article.msg.user .bubble").last).to_contain_text("<svg onload=")


def test_conversations_reload_rename_delete(page: Any, live_server: LiveServer) -> None:
    page.goto("/")
    pick_model(page, "scripted:echo")
    ask(page, "First question about volcanoes")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    ask(page, "Second question")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    first_url = page.url
    expect(page.locator(".conv.active .conv-title")).to_have_text("First question about volcanoes")

    # A second conversation, then back to the first from the sidebar.
    page.get_by_role("button", name="+ New chat").click()
    expect(page.locator("article.msg")).to_have_count(0)
    ask(page, "Other topic")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    page.locator(".conv-open", has_text="First question").click()
    expect(page.locator("article.msg")).to_have_count(4)

    # Reload: the conversation comes back from the server's query log.
    page.reload()
    assert page.url == first_url
    expect(page.locator("article.msg")).to_have_count(4)
    expect(page.locator("article.msg.user .bubble").first).to_have_text(
        "First question about volcanoes"
    )
    expect(last_answer(page).locator(".markdown")).to_have_text("You said: Second question")
    expect(last_answer(page).get_by_test_id("thinking-summary")).to_contain_text("reasoning tokens")

    # Rename (Enter saves; it persists on the server).
    page.get_by_role("button", name="Rename First question about volcanoes").click()
    page.get_by_label("Conversation title").fill("Volcanoes")
    page.get_by_label("Conversation title").press("Enter")
    expect(page.locator(".conv.active .conv-title")).to_have_text("Volcanoes")
    page.reload()
    expect(page.locator(".conv.active .conv-title")).to_have_text("Volcanoes")

    # Delete with confirmation: gone from the list and from the database.
    session_id = unquote(page.url.rsplit("/", 1)[-1])
    page.get_by_role("button", name="Delete Volcanoes").click()
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator(".conv-title", has_text="Volcanoes")).to_have_count(0)
    assert live_server.sql("SELECT count(*) FROM sessions WHERE id = ?", session_id) == [(0,)]
    assert live_server.sql("SELECT count(*) FROM queries WHERE session_id = ?", session_id) == [
        (0,)
    ]


def test_regenerate_and_copy(page: Any, live_server: LiveServer) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/")
    pick_model(page, "scripted:echo")
    ask(page, "Regenerate me")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "done")
    first_query = answer.get_attribute("data-query-id")
    page.get_by_role("button", name="Copy answer").click()
    assert page.evaluate("navigator.clipboard.readText()").strip() == "You said: Regenerate me"
    page.get_by_role("button", name="Regenerate answer").click()
    expect(page.locator("article.msg.assistant")).to_have_count(1)
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    assert last_answer(page).get_attribute("data-query-id") not in (None, first_query)


PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2213b"
    "b40000000049454e44ae426082"
)


def test_image_attachment_for_a_vision_model(page: Any, live_server: LiveServer) -> None:
    page.goto("/")
    pick_model(page, "scripted:echo")  # a vision model: the attach button is offered
    expect(page.get_by_role("button", name="Attach image")).to_be_visible()
    page.get_by_test_id("image-input").set_input_files(
        files=[{"name": "dot.png", "mimeType": "image/png", "buffer": PNG_1X1}]
    )
    expect(page.locator(".attachments.pending img")).to_have_count(1)
    with page.expect_request("**/api/v1/query/stream?format=platform") as req:
        ask(page, "What is in this picture?")
    body = req.value.post_data_json
    assert body["attachments"][0]["mime"] == "image/png"
    assert body["attachments"][0]["name"] == "dot.png"
    assert base64.b64decode(body["attachments"][0]["base64"]) == PNG_1X1
    expect(page.locator("article.msg.user").last.locator("img.thumb")).to_have_count(1)
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    # A model without vision offers no attachment.
    pick_model(page, "scripted:slow")
    expect(page.get_by_role("button", name="Attach image")).to_have_count(0)


def test_streaming_markdown_keeps_finished_blocks(page: Any, live_server: LiveServer) -> None:
    """Blocks already rendered are never rebuilt while later tokens arrive (no flicker)."""
    page.goto("/")
    pick_model(page, "scripted:slow")
    box = page.get_by_role("textbox", name="Message")
    box.fill("A list:\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode\n```")
    box.press("Enter")
    answer = last_answer(page)
    blocks = answer.locator(".markdown .md-block")
    expect(blocks).not_to_have_count(0)
    expect(blocks.nth(1)).to_be_attached(timeout=20_000)  # the first block is complete
    blocks.first.evaluate("el => { el.dataset.mark = 'kept'; }")
    expect(answer.locator(".markdown ul li")).to_have_count(2, timeout=20_000)
    expect(answer.locator(".markdown table td")).to_have_count(2, timeout=20_000)
    expect(answer.locator(".markdown pre code")).to_contain_text("code", timeout=20_000)
    assert answer.locator(".markdown .md-block").first.get_attribute("data-mark") == "kept"
    page.get_by_test_id("stop").click()
