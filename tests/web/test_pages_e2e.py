"""The usage dashboard and the experiments page in a real browser: SVG charts, the query
table and its CSV, a two-arm experiment run by a participant and exported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from playwright.sync_api import expect

from tests.support.browser import (
    LiveServer,
    ask,
    last_answer,
    pick_model,
    screenshot,
    session_of,
    sign_in,
)


def test_dashboard_charts_table_and_csv(page: Any, live_server: LiveServer, tmp_path: Path) -> None:
    page.goto("/")
    pick_model(page, "scripted:echo")
    for q in ("How do tides work?", "And the moon?"):
        ask(page, q)
        expect(last_answer(page)).to_have_attribute("data-status", "done")
    session_id = unquote(page.url.rsplit("/", 1)[-1])

    # The dashboard is for researchers: a participant is asked for a key.
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_test_id("signin")).to_contain_text("This page is for researchers")
    page.locator("#api-key").fill(live_server.key("dash-admin"))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("total-queries")).to_have_text("2")
    charts = page.locator("svg.chart-svg")
    expect(charts).to_have_count(7)
    expect(page.get_by_role("img", name="Tokens by provider")).to_contain_text("scripted")
    expect(page.get_by_role("img", name="Tokens by model")).to_contain_text("echo")
    assert page.locator("svg.chart-svg rect.c1").count() >= 3
    latency = page.get_by_role("img", name="Latency distribution")
    expect(latency).to_have_attribute(
        "aria-label",
        "Latency distribution: median " + latency.get_attribute("aria-label").split("median ")[1],
    )
    expect(page.get_by_test_id("queries-table").locator("tbody tr")).to_have_count(2)
    screenshot(page, "dashboard", docs=True)

    # Filter by session; the CSV holds the rows shown.
    page.get_by_test_id("filter-session").fill("no-such-session")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("queries-table")).to_contain_text("No queries yet.")
    page.get_by_test_id("filter-session").fill(session_id)
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("queries-table").locator("tbody tr")).to_have_count(2)
    with page.expect_download() as info:
        page.get_by_test_id("csv-download").click()
    csv_path = tmp_path / "q.csv"
    info.value.save_as(csv_path)
    lines = csv_path.read_text().strip().splitlines()
    assert lines[0].startswith("created_at,id,session_id")
    assert len(lines) == 3 and all(session_id in line for line in lines[1:])
    expect(page.get_by_role("link", name="Session export (CSV)")).to_be_visible()

    # A row leads back to its conversation.
    page.get_by_test_id("queries-table").get_by_role("link").first.click()
    expect(page.locator("article.msg")).to_have_count(4)


def test_two_arm_experiment_from_setup_to_export(
    browser: Any, page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, live_server.key("lab", role="researcher"))
    page.goto("/experiments")
    form = page.get_by_test_id("experiment-form")
    form.get_by_test_id("exp-name").fill("Tone study")
    form.get_by_test_id("exp-id").fill("tone-study")
    arms = form.get_by_test_id("arm")
    expect(arms).to_have_count(2)
    arms.nth(0).get_by_test_id("arm-name").fill("formal")
    arms.nth(0).get_by_test_id("arm-prompt").fill("Answer formally.")
    arms.nth(0).get_by_test_id("arm-temperature").fill("0.2")
    arms.nth(0).get_by_test_id("arm-model").select_option("scripted:echo")
    arms.nth(1).get_by_test_id("arm-name").fill("casual")
    arms.nth(1).get_by_test_id("arm-prompt").fill("Answer casually.")
    arms.nth(1).get_by_test_id("arm-weight").fill("3")
    form.get_by_test_id("exp-create").click()

    card = page.locator('[data-experiment-id="tone-study"]')
    expect(card).to_be_visible()
    link = card.get_by_test_id("participant-link").input_value()
    assert link == f"{live_server.url}/?experiment=tone-study"
    expect(card.get_by_test_id("arm-stats").locator("tbody tr")).to_have_count(2)
    stored = live_server.sql("SELECT variants FROM experiments WHERE id = 'tone-study'")
    variants = json.loads(stored[0][0])
    assert [(v["name"], v["weight"]) for v in variants] == [("formal", 1.0), ("casual", 3.0)]
    chosen = ("provider", "model", "temperature", "system_prompt", "max_tokens", "rag_file_ids")
    assert {k: v for k, v in variants[0]["settings"].items() if k in chosen and v} == {
        "provider": "scripted",
        "model": "echo",
        "temperature": 0.2,
        "system_prompt": "Answer formally.",
    }

    # A participant opens the link in their own browser and chats.
    participant = browser.new_context()
    p = participant.new_page()
    p.goto(link)
    expect(p.locator(".pill.study")).to_be_visible()
    ask(p, "Hello study")
    expect(p.locator("article.msg.assistant").last).to_have_attribute("data-status", "done")
    psid = session_of(p)
    arm = live_server.sql("SELECT experiment_id, variant FROM sessions WHERE id = ?", psid)
    assert arm[0][0] == "tone-study" and arm[0][1] in ("formal", "casual")
    screenshot(p, "participant")
    participant.close()

    # The researcher sees the participant's session and events arrive in its arm.
    row = card.locator(f'tr[data-arm="{arm[0][1]}"]')
    expect(row.locator('[data-col="sessions"]')).to_have_text("1", timeout=10_000)
    expect(row.locator('[data-col="events"]')).not_to_have_text("0", timeout=10_000)
    screenshot(page, "experiments")

    with page.expect_download() as info:
        card.get_by_test_id("export-jsonl").click()
    out = tmp_path / "exp.jsonl"
    info.value.save_as(out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = {r["kind"] for r in records}
    assert {"session", "event", "query"} <= kinds
    assert all(r["session_id"] == psid for r in records)
    assert all(r["experiment_id"] == "tone-study" for r in records if r["kind"] != "query")
    with page.expect_download() as info:
        card.get_by_test_id("export-csv").click()
    assert info.value.suggested_filename == "experiment-tone-study.csv"


def test_phone_layout_dark_theme_and_keyboard(browser: Any, live_server: LiveServer) -> None:
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 390, "height": 800},
        color_scheme="dark",
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/")
    # A new browser: its participant token first, then the models (slow on a busy machine).
    expect(page.locator("#model-select option")).not_to_have_count(0, timeout=15_000)
    pick_model(page, "scripted:echo")  # the layout is under test, not the embedded model
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Conversations")).to_be_focused()
    # Dark theme follows the system setting.
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(18, 20, 25)", bg
    # The conversation list is off-screen until the menu opens it.
    sidebar = page.get_by_role("complementary", name="Conversations")
    assert sidebar.bounding_box()["x"] < 0
    page.get_by_role("button", name="Conversations").click()
    page.wait_for_timeout(300)
    assert sidebar.bounding_box()["x"] >= 0
    page.get_by_role("button", name="Conversations").click()
    # Typing and Enter in the composer.
    page.get_by_role("textbox", name="Message").focus()
    page.keyboard.type("Typed with the keyboard")
    page.keyboard.press("Enter")
    expect(page.locator("article.msg.assistant").last).to_have_attribute(
        "data-status", "done", timeout=15_000
    )
    screenshot(page, "chat-phone-dark")
    context.close()
