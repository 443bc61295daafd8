"""The chat in a real browser: streaming, thinking panel, stop, sanitised Markdown,
conversations reloaded from the server."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import expect

from tests.web.conftest import LiveServer, screenshot


def ask(page: Any, text: str) -> None:
    box = page.get_by_label("Message")
    box.fill(text)
    box.press("Enter")


def last_answer(page: Any) -> Any:
    return page.locator("article.msg.assistant").last


def pick_model(page: Any, key: str) -> None:
    page.locator("#model-select").select_option(key)


def test_chat_streams_tokens_and_shows_thinking(page: Any, live_server: LiveServer) -> None:
    page.goto("/")
    expect(page.get_by_test_id("tracking-notice")).to_be_visible()
    expect(page.locator("#model-select option")).not_to_have_count(0)
    pick_model(page, "scripted:echo")
    expect(page.get_by_test_id("model-caps")).to_contain_text("reasoning")
    expect(page.get_by_test_id("model-caps")).to_contain_text("vision")

    # Shift+Enter is a newline, Enter sends.
    box = page.get_by_label("Message")
    box.fill("Tell me about the tides")
    box.press("Shift+Enter")
    assert box.input_value().endswith("\n")
    box.fill("Tell me about the tides please")
    box.press("Enter")

    answer = last_answer(page)
    # The thinking panel fills live while the model reasons.
    expect(answer.get_by_test_id("thinking-summary")).to_have_text("Thinking…")
    expect(answer.locator(".thinking")).to_have_attribute("open", "")
    # Tokens arrive one by one: the answer grows while it is still streaming.
    seen: list[int] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = answer.get_attribute("data-status")
        text = answer.locator(".markdown").all_inner_texts()
        if status == "streaming" and text:
            seen.append(len(text[0]))
        if status != "streaming":
            break
        time.sleep(0.02)
    assert len(set(seen)) >= 3, f"answer did not grow token by token: {seen}"
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer.locator(".markdown")).to_have_text("You said: Tell me about the tides please")

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
