"""Files and grounded answers in a real browser: upload (drag-and-drop and file picker),
ingestion status, file selection, an answer citing its source, and the source opened."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from tests.support.browser import (
    LiveServer,
    ask,
    drop_file,
    last_answer,
    pick_model,
    screenshot,
    session_of,
)
from tests.support.documents import make_pdf

FACT = "The Zephyr project offsite takes place in Grenoble on 14 October."
PAGES = [
    "Zephyr project handbook\nChapter 1: who we are.\nWe build weather balloons for schools.",
    f"Chapter 2: events\n{FACT}\nThe budget is approved by the steering committee.",
]
NOTES = b"Shopping list: flour, eggs, butter, sugar. Bake at 180 degrees for forty minutes."


def file_item(page: Any, name: str) -> Any:
    return page.locator(".file-item", has_text=name)


def test_upload_select_ask_and_open_the_source(page: Any, live_server: LiveServer) -> None:
    page.goto("/")
    pick_model(page, "scripted:grounded")
    page.get_by_test_id("files-toggle").click()
    panel = page.get_by_test_id("files-panel")
    expect(panel).to_be_visible()

    # One file dropped on the drop zone, one chosen with the file picker.
    drop_file(page, ".dropzone", "zephyr.pdf", "application/pdf", make_pdf(PAGES))
    panel.get_by_test_id("file-input").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": NOTES}]
    )
    expect(page.locator(".drop-overlay")).to_have_count(0)
    for name in ("zephyr.pdf", "notes.txt"):
        expect(file_item(page, name).get_by_test_id("file-status")).to_have_text(
            "ready", timeout=90_000
        )
    expect(file_item(page, "zephyr.pdf")).to_contain_text("2 p.")
    uploads = [r for r in live_server.requests if r.path == "/api/v1/files/upload"]
    assert len(uploads) == 2 and all(r.status == 201 for r in uploads), uploads
    expect(page.locator(".file-item")).to_have_count(2)
    # Uploaded files are selected for this chat; the notes are not wanted here.
    pdf_box = file_item(page, "zephyr.pdf").get_by_role("checkbox")
    notes_box = file_item(page, "notes.txt").get_by_role("checkbox")
    expect(pdf_box).to_be_checked()
    notes_box.uncheck()
    expect(page.get_by_test_id("selected-files")).to_have_text("Searching 1 file: zephyr.pdf")
    pdf_id = file_item(page, "zephyr.pdf").get_attribute("data-file-id")

    # Record, in the page, whether the sources showed before the first answer text.
    page.evaluate(
        """() => {
          window.__order = [];
          new MutationObserver(() => {
            const a = [...document.querySelectorAll('article.msg.assistant')].pop();
            if (!a) return;
            const md = a.querySelector('.markdown');
            window.__order.push({ sources: Boolean(a.querySelector('[data-testid=sources]')),
                                  chars: md ? md.textContent.length : 0 });
          }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )
    with page.expect_request("**/api/v1/query/stream?format=platform") as req:
        ask(page, "Where does the Zephyr offsite take place?")
    assert req.value.post_data_json["file_ids"] == [pdf_id]
    assert req.value.post_data_json["use_rag"] is True
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "done")
    md = answer.locator(".markdown")
    expect(md).to_have_text(
        "According to zephyr.pdf, page 2: The Zephyr project offsite takes place in Grenoble "
        "on 14 October [1]."
    )
    order = page.evaluate("window.__order")
    first_text = next(i for i, s in enumerate(order) if s["chars"])
    assert order[first_text]["sources"], "the answer began before its sources were shown"

    # The source: file name and page; opened, it shows its excerpt.
    chips = answer.get_by_test_id("source-chip")
    chip = chips.first  # the best match, cited as [1]
    expect(chip).to_contain_text("1zephyr.pdf, p. 2")
    # Only the selected file was searched.
    labels = chips.evaluate_all("els => els.map(e => e.textContent)")
    assert all("zephyr.pdf" in x for x in labels), labels
    chip.click()
    expect(chip).to_have_attribute("aria-expanded", "true")
    detail = answer.get_by_test_id("source-detail")
    expect(detail).to_contain_text("Grenoble on 14 October")
    expect(detail).to_contain_text("relevance")
    screenshot(page, "chat-sources", docs=True)
    chip.click()
    expect(detail).to_have_count(0)
    # The [1] marker in the answer opens the same source.
    md.locator("a.cite-ref", has_text="[1]").click()
    expect(detail).to_contain_text("Grenoble")
    assert "#" not in page.url  # the marker opened the source, the page did not jump

    # "Open page 2": the file, fetched with the user's id, in a new tab at its page.
    before = len(live_server.requests)
    with page.context.expect_page() as popup_info:
        detail.get_by_test_id("source-open").click()
    popup = popup_info.value
    assert popup.url.startswith("blob:") and popup.url.endswith("#page=2"), popup.url
    content = [r for r in live_server.requests[before:] if r.path.endswith("/content")]
    assert [r.path for r in content] == [f"/api/v1/files/{pdf_id}/content"]
    assert content[0].status == 200 and content[0].headers["authorization"].startswith("Bearer pt_")
    popup.close()

    # The clicks reach the database, tied to the answer and the file.
    sid = session_of(page)
    query_id = answer.get_attribute("data-query-id")
    rows = live_server.wait_sql(
        "SELECT type, data FROM events WHERE session_id = ? AND type IN "
        "('source_click', 'source_open') ORDER BY id",
        lambda r: len(r) >= 3,
        sid,
    )
    got = [(t, json.loads(d)) for t, d in rows]
    clicks = [d for t, d in got if t == "source_click"]
    assert [c["via"] for c in clicks] == ["chip", "marker"]
    for c in clicks:
        assert c["file_id"] == pdf_id and c["file_name"] == "zephyr.pdf" and c["page"] == 2
        assert c["query_id"] == query_id and c["rank"] == 1 and c["score"] > 0
    opened = [d for t, d in got if t == "source_open"]
    assert opened and opened[0]["file_id"] == pdf_id and opened[0]["page"] == 2
    # The logged query holds its citation; the reloaded conversation shows it again.
    logged = live_server.sql("SELECT citations FROM queries WHERE id = ?", query_id)
    assert json.loads(logged[0][0])[0]["file_name"] == "zephyr.pdf"
    page.reload()
    expect(last_answer(page).get_by_test_id("source-chip").first).to_contain_text(
        "zephyr.pdf, p. 2"
    )
    expect(last_answer(page).locator("a.cite-ref")).to_have_text("[1]")
