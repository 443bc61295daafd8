"""The web app as a study participant sees it in the default mode: a signed participant
token minted on the first visit and sent on every request, the same person after a reload,
nobody else's conversations, and the researcher pages behind a key."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.support.browser import LiveServer, ask, last_answer, pick_model, session_of


def test_participant_token_from_first_visit_to_reload(
    browser: Any, page: Any, live_server: LiveServer
) -> None:
    seen_before = len(live_server.requests)
    page.goto("/")
    pick_model(page, "scripted:echo")
    ask(page, "Hello from a participant")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    sid = session_of(page)
    requests = live_server.requests[seen_before:]
    minted = [r for r in requests if r.path == "/api/v1/auth/participant"]
    assert len(minted) == 1 and minted[0].status == 201
    # Every other API request carried the token, none a client-named id.
    others = [r for r in requests if r.path != "/api/v1/auth/participant"]
    assert others and all(
        r.headers.get("authorization", "").startswith("Bearer pt_") for r in others
    )
    assert not any("x-user-id" in r.headers for r in others)
    (owner,) = live_server.sql("SELECT user_id FROM sessions WHERE id = ?", sid)[0]
    assert owner.startswith("p-")
    rows = live_server.wait_sql(
        "SELECT count(*) FROM queries WHERE session_id = ?", lambda r: r[0][0] == 1, sid
    )
    assert rows[0][0] == 1

    # A reload is the same participant: no new token, the conversation is still there.
    page.reload()
    expect(page.locator("article.msg.user")).to_contain_text("Hello from a participant")
    assert (
        len([r for r in live_server.requests if r.path == "/api/v1/auth/participant"])
        == len(
            [r for r in live_server.requests[:seen_before] if r.path == "/api/v1/auth/participant"]
        )
        + 1
    )

    # Another browser is another participant, who cannot open the first one's conversation.
    other = browser.new_context(base_url=live_server.url)
    p2 = other.new_page()
    p2.goto(f"/c/{sid}")
    expect(p2.locator("#model-select option")).not_to_have_count(0)
    expect(p2.locator("article.msg.user")).to_have_count(0)
    assert session_of(p2) != sid
    # The researcher pages ask for a key; the participant's token does not open them.
    p2.get_by_role("link", name="Dashboard").click()
    expect(p2.get_by_test_id("signin")).to_contain_text("This page is for researchers")
    other.close()
