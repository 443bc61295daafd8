"""A user study in a real browser (issue 14): a participant from a Prolific-style link goes
through consent, the questionnaires and the chat task to the completion code and the redirect;
the same inside a survey's iframe (postMessage to the host page); a reload mid-task resumes;
declining, withdrawing and a closed, unknown or tampered link each end on a clear page; the
researcher's page lists, opens, watches and previews a study."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import LiveServer, ask, last_answer, screenshot, sign_in

CODE = "C0DE42"


@dataclass
class HostServer:
    """Another origin (a survey tool's page): serves the pages a test puts in `pages`."""

    url: str
    pages: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def host() -> Iterator[HostServer]:
    server_state = HostServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = server_state.pages.get(self.path.split("?", 1)[0])
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    server_state.pages["/done"] = "<!doctype html><title>Done</title><h1>Submission complete</h1>"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def admin_key(live_server: LiveServer) -> str:
    return live_server.key("study-owner", role="researcher")


PRE = [
    {
        "id": "trust_pre",
        "kind": "likert",
        "prompt": "I trust AI assistants",
        "required": True,
        "scale": {"min": 1, "max": 7, "min_label": "Not at all", "max_label": "Fully"},
    },
    {
        "id": "use",
        "kind": "single",
        "prompt": "How often do you use them?",
        "required": True,
        "options": ["Never", "Weekly", "Daily"],
    },
    {"id": "why", "kind": "text", "prompt": "Anything to add?", "required": False},
]
POST = [
    {"id": "trust_post", "kind": "likert", "prompt": "I trust this assistant", "required": True},
    {
        "id": "effort",
        "kind": "number",
        "prompt": "Effort (0-10)",
        "required": True,
        "min": 0,
        "max": 10,
    },
    {
        "id": "liked",
        "kind": "multiple",
        "prompt": "What did you like?",
        "required": False,
        "options": ["Speed", "Tone"],
    },
]


def definition(
    study_id: str,
    *,
    pre: bool = True,
    post: bool = True,
    redirect: str | None = None,
    origins: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "id": study_id,
        "name": f"Study {study_id}",
        "consent_markdown": (
            "# Consent\n\nYou agree to **chat** with an assistant.\n\n"
            '<img src=x onerror="window.__pwned=1"> [a link](javascript:window.__pwned=2)'
        ),
        "instructions_markdown": "Ask the assistant **two** questions.",
        "arms": [
            {"name": "arm-alpha", "provider": "scripted", "model": "echo", "system_prompt": "A"},
            {"name": "arm-beta", "provider": "scripted", "model": "echo", "system_prompt": "B"},
        ],
        "pre_questionnaire": PRE if pre else [],
        "post_questionnaire": POST if post else [],
        "completion": {"min_turns": 2, "code": CODE, "redirect_url": redirect},
        "allowed_frame_origins": list(origins),
    }


def create_study(server: LiveServer, key: str, body: dict[str, Any], open_it: bool = True) -> str:
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url, headers=auth, timeout=30) as c:
        r = c.post("/api/v1/studies", json=body)
        assert r.status_code == 201, r.text
        if open_it:
            assert c.post(f"/api/v1/studies/{body['id']}/open").status_code == 200
    return str(body["id"])


def participants(server: LiveServer, study_id: str) -> list[tuple[Any, ...]]:
    return server.sql(
        "SELECT status, arm, session_id, is_preview FROM study_participants WHERE study_id = ?",
        study_id,
    )


def chat_until_done(page_or_frame: Any, turns: int = 2) -> None:
    for i in range(turns):
        ask(page_or_frame, f"Question {i + 1}")
        expect(last_answer(page_or_frame)).to_have_attribute("data-status", "done")
        expect(last_answer(page_or_frame).locator(".markdown")).to_have_text(
            f"You said: Question {i + 1}"
        )
        expect(page_or_frame.get_by_test_id("progress-messages")).to_have_text(
            f"{i + 1} of 2 messages"
        )


def messages_of(page: Any, kind: str, timeout: float = 15) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        got = [m for m in page.evaluate("window.__messages") if m["data"].get("type") == kind]
        if got or time.monotonic() > deadline:
            return got
        page.wait_for_timeout(100)


def test_prolific_participant_completes_and_is_redirected_with_the_code(
    browser: Any, page: Any, live_server: LiveServer, admin_key: str, host: HostServer
) -> None:
    study = create_study(
        live_server, admin_key, definition("flow", redirect=f"{host.url}/done?cc={CODE}")
    )
    page.goto(f"/s/{study}?PROLIFIC_PID=pp-flow-1&STUDY_ID=st-9&SESSION_ID=se-9")
    expect(page.get_by_test_id("consent-text")).to_contain_text("You agree to chat")
    expect(page.get_by_test_id("consent-text").locator("h1")).to_have_text("Consent")
    expect(page.get_by_test_id("withdraw")).to_be_visible()
    screenshot(page, "study-consent")
    # The researcher's Markdown is sanitised: raw HTML shown as text, no script URL.
    consent = page.get_by_test_id("consent-text")
    expect(consent.locator("img")).to_have_count(0)
    expect(consent.get_by_text("a link")).not_to_have_attribute(
        "href", "javascript:window.__pwned=2"
    )
    assert page.evaluate("window.__pwned") is None
    page.get_by_test_id("consent-agree").click()

    # The pre-questionnaire: required items are checked before anything is sent.
    form = page.get_by_test_id("questionnaire-pre")
    expect(form).to_be_visible()
    page.get_by_test_id("questionnaire-submit").click()
    expect(page.get_by_test_id("item-trust_pre").get_by_test_id("item-error")).to_contain_text(
        "Please answer"
    )
    expect(page.get_by_test_id("item-use").get_by_test_id("item-error")).to_be_visible()
    screenshot(page, "study-questionnaire-errors")
    expect(page.get_by_test_id("item-why").get_by_test_id("item-error")).to_have_count(0)
    page.get_by_test_id("item-trust_pre").get_by_label("5", exact=True).check()
    page.get_by_test_id("item-use").get_by_label("Weekly").check()
    page.get_by_test_id("item-why").locator("textarea").fill("Curious")
    page.get_by_test_id("questionnaire-submit").click()

    # The task: instructions at hand, progress toward two turns, Finish once met.
    expect(page.get_by_test_id("study-task")).to_be_visible()
    expect(page.get_by_test_id("instructions")).to_contain_text("Ask the assistant two questions")
    expect(page.get_by_test_id("progress-messages")).to_have_text("0 of 2 messages")
    expect(page.get_by_test_id("finish")).to_be_disabled()
    chat_until_done(page)
    expect(page.get_by_test_id("finish")).to_be_enabled()
    body = page.locator("body").inner_text()
    # The participant is blind to the condition: no arm name, no model name.
    assert "arm-alpha" not in body and "arm-beta" not in body and "scripted" not in body
    screenshot(page, "study-task")
    page.get_by_test_id("finish").click()

    # The post-questionnaire: a number out of range is refused inline.
    expect(page.get_by_test_id("questionnaire-post")).to_be_visible()
    page.get_by_test_id("item-trust_post").get_by_label("6", exact=True).check()
    page.get_by_test_id("item-effort").locator("input").fill("11")
    page.get_by_test_id("questionnaire-submit").click()
    expect(page.get_by_test_id("item-effort").get_by_test_id("item-error")).to_contain_text(
        "at most 10"
    )
    page.get_by_test_id("item-effort").locator("input").fill("7")
    page.get_by_test_id("item-liked").get_by_label("Tone").check()
    page.get_by_test_id("questionnaire-submit").click()

    # Debrief: the code, then the recruitment platform's completion URL.
    expect(page.get_by_test_id("completion-code")).to_have_text(CODE)
    screenshot(page, "study-debrief")
    expect(page.get_by_test_id("redirect-link")).to_have_attribute(
        "href", f"{host.url}/done?cc={CODE}"
    )
    page.wait_for_url(f"{host.url}/done?cc={CODE}", timeout=20_000)
    expect(page.locator("h1")).to_have_text("Submission complete")

    rows = participants(live_server, study)
    assert [(r[0], r[3]) for r in rows] == [("completed", 0)]
    # The page's UI events were recorded in the participant's study session.
    events = live_server.wait_sql(
        "SELECT type FROM events WHERE session_id = ?",
        lambda r: {"study_step", "query_submit"} <= {t for (t,) in r},
        rows[0][2],
    )
    assert {"study_step", "query_submit", "response_complete"} <= {t for (t,) in events}
    answers = live_server.sql(
        "SELECT phase, item_id FROM study_answers WHERE study_id = ? ORDER BY phase, item_id",
        study,
    )
    assert {(a[0], a[1]) for a in answers} >= {
        ("pre", "trust_pre"),
        ("pre", "use"),
        ("post", "effort"),
        ("post", "trust_post"),
    }
    # The same recruitment id again, from another browser: already done, no second code.
    other = browser.new_context(base_url=live_server.url)
    again = other.new_page()
    again.goto(f"/s/{study}?PROLIFIC_PID=pp-flow-1")
    expect(again.get_by_test_id("study-already-completed")).to_be_visible()
    expect(again.get_by_test_id("completion-code")).to_have_count(0)
    other.close()
    # The raw recruitment id is nowhere in the participants table.
    assert "pp-flow-1" not in json.dumps(
        live_server.sql("SELECT * FROM study_participants WHERE study_id = ?", study),
        default=str,
    )


def host_page(live: LiveServer, host: HostServer, path: str, src: str) -> None:
    host.pages[path] = f"""<!doctype html><meta charset="utf-8"><title>Survey</title>
<script>
window.__messages = [];
addEventListener("message", (e) => window.__messages.push({{origin: e.origin, data: e.data}}));
</script>
<h1>Survey host</h1>
<iframe id="study" src="{live.url}{src}" width="1150" height="700"></iframe>"""


def test_study_inside_a_survey_iframe_posts_to_the_host(
    browser: Any, page: Any, live_server: LiveServer, admin_key: str, host: HostServer
) -> None:
    study = create_study(
        live_server,
        admin_key,
        definition(
            "framed", pre=False, post=False, redirect=f"{host.url}/done", origins=(host.url,)
        ),
    )
    # The page may be framed by the study's allowed origins only.
    r = httpx.get(f"{live_server.url}/s/{study}?PROLIFIC_PID=x")
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors" in csp and host.url in csp
    assert r.headers.get("x-frame-options", "").upper() != "DENY"

    host_page(live_server, host, "/survey", f"/s/{study}?PROLIFIC_PID=pp-frame-1")
    page.goto(f"{host.url}/survey")
    frame = page.frame_locator("#study")
    frame.get_by_test_id("consent-agree").click()
    (consent,) = messages_of(page, "llm-platform:consent")
    assert consent == {
        "origin": live_server.url,
        "data": {"type": "llm-platform:consent", "study": study, "agree": True},
    }
    expect(frame.get_by_test_id("study-task")).to_be_visible()
    chat_until_done(frame)
    frame.get_by_test_id("finish").click()
    expect(frame.get_by_test_id("completion-code")).to_have_text(CODE)
    (done,) = messages_of(page, "llm-platform:complete")
    assert done["origin"] == live_server.url
    assert done["data"] == {"type": "llm-platform:complete", "study": study, "code": CODE}
    # Framed, the survey goes on: no redirect of the frame by itself.
    page.wait_for_timeout(500)
    expect(frame.get_by_test_id("study-debrief")).to_be_visible()
    assert page.url == f"{host.url}/survey"

    # Another participant (another browser) withdraws from inside the frame: the host hears.
    host_page(live_server, host, "/survey2", f"/s/{study}?PROLIFIC_PID=pp-frame-2")
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{host.url}/survey2")
    frame = page.frame_locator("#study")
    frame.get_by_test_id("consent-agree").click()
    expect(frame.get_by_test_id("study-task")).to_be_visible()
    frame.get_by_test_id("withdraw").click()
    frame.get_by_test_id("withdraw-yes").click()
    expect(frame.get_by_test_id("study-withdrawn")).to_be_visible()
    (gone,) = messages_of(page, "llm-platform:withdraw")
    assert gone["data"] == {"type": "llm-platform:withdraw", "study": study}
    # A reload says so again, without entering the study anew.
    page.reload()
    expect(page.frame_locator("#study").get_by_test_id("study-withdrawn")).to_be_visible()
    context.close()
    statuses = sorted(r[0] for r in participants(live_server, study))
    assert statuses == ["completed"]  # the withdrawn participant's row is gone


def test_study_task_on_a_phone(browser: Any, live_server: LiveServer, admin_key: str) -> None:
    study = create_study(live_server, admin_key, definition("phone", pre=False, post=False))
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 760}, is_mobile=True
    )
    page = context.new_page()
    page.goto(f"/s/{study}?PROLIFIC_PID=pp-phone-1")
    page.get_by_test_id("consent-agree").click()
    expect(page.get_by_test_id("instructions")).to_be_in_viewport()
    expect(page.get_by_test_id("finish")).to_be_in_viewport()
    chat_until_done(page)
    expect(page.get_by_role("textbox", name="Message")).to_be_in_viewport()
    screenshot(page, "study-task-phone")
    page.get_by_test_id("finish").click()
    expect(page.get_by_test_id("completion-code")).to_have_text(CODE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width}px)"
    context.close()


def test_time_on_task_rule_enables_finish_by_itself(
    page: Any, live_server: LiveServer, admin_key: str
) -> None:
    body = definition("timed", pre=False, post=False)
    body["completion"] = {"min_turns": 0, "min_minutes": 0.05, "code": CODE}  # 3 s
    study = create_study(live_server, admin_key, body)
    page.goto(f"/s/{study}?PROLIFIC_PID=pp-timed-1")
    page.get_by_test_id("consent-agree").click()
    expect(page.get_by_test_id("progress-time")).to_contain_text("of 0:03")
    expect(page.get_by_test_id("finish")).to_be_disabled()
    expect(page.get_by_test_id("finish")).to_be_enabled(timeout=20_000)
    expect(page.get_by_test_id("progress-time")).to_have_text("0:03 of 0:03")
    page.get_by_test_id("finish").click()
    expect(page.get_by_test_id("completion-code")).to_have_text(CODE)


def test_reload_mid_task_resumes_the_same_session_and_arm(
    page: Any, live_server: LiveServer, admin_key: str
) -> None:
    study = create_study(live_server, admin_key, definition("resume", pre=False, post=False))
    url = f"/s/{study}?PROLIFIC_PID=pp-resume-1"
    page.goto(url)
    page.get_by_test_id("consent-agree").click()
    task = page.get_by_test_id("study-task")
    expect(task).to_be_visible()
    ask(page, "Before the reload")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    expect(page.get_by_test_id("progress-messages")).to_have_text("1 of 2 messages")
    session_id = task.get_attribute("data-session")
    ((status, arm, sid, _),) = participants(live_server, study)
    assert sid == session_id and status == "task"

    page.reload()
    expect(page.get_by_test_id("study-task")).to_have_attribute("data-session", session_id)
    expect(page.locator("article.msg.user")).to_have_text(["Before the reload"])
    expect(page.get_by_test_id("progress-messages")).to_have_text("1 of 2 messages")

    # A second tab of the same browser is the same participant too.
    second = page.context.new_page()
    second.goto(url)
    expect(second.get_by_test_id("study-task")).to_have_attribute("data-session", session_id)
    expect(second.locator("article.msg.user")).to_have_text(["Before the reload"])
    second.close()
    assert participants(live_server, study) == [("task", arm, session_id, 0)]


def test_declining_consent_ends_on_a_page_and_is_recorded(
    page: Any, live_server: LiveServer, admin_key: str
) -> None:
    study = create_study(live_server, admin_key, definition("decline"))
    page.goto(f"/s/{study}?PROLIFIC_PID=pp-decline-1")
    page.get_by_test_id("consent-decline").click()
    expect(page.get_by_test_id("study-declined")).to_contain_text("You declined")
    expect(page.get_by_test_id("withdraw")).to_have_count(0)
    assert [r[0] for r in participants(live_server, study)] == ["declined"]
    page.reload()
    expect(page.get_by_test_id("study-declined")).to_be_visible()


def test_closed_full_unknown_and_tampered_links_show_clear_pages(
    page: Any, live_server: LiveServer, admin_key: str
) -> None:
    closed = create_study(live_server, admin_key, definition("closed-one"), open_it=False)
    page.goto(f"/s/{closed}?PROLIFIC_PID=pp-closed-1")
    expect(page.get_by_test_id("study-closed")).to_contain_text("This study is closed")
    assert participants(live_server, closed) == []

    full = create_study(live_server, admin_key, {**definition("full-one"), "target_per_arm": 1})
    for n in (1, 2):  # one per arm
        r = httpx.post(
            f"{live_server.url}/api/v1/studies/{full}/enter",
            json={"params": {"PROLIFIC_PID": f"pp-full-{n}"}},
        )
        assert r.status_code == 200, r.text
    page.goto(f"/s/{full}?PROLIFIC_PID=pp-full-3")
    expect(page.get_by_test_id("study-full")).to_contain_text("This study is full")

    page.goto("/s/no-such-study?PROLIFIC_PID=pp-x")
    expect(page.get_by_test_id("study-not-found")).to_be_visible()

    study = create_study(live_server, admin_key, definition("tamper", pre=False, post=False))
    page.goto(f"/s/{study}?PROLIFIC_PID=pp-tamper-1")
    expect(page.get_by_test_id("study-consent")).to_be_visible()
    token = page.evaluate(f"localStorage.getItem('llmp.study.{study}.token')")
    assert token and token.startswith("pt_")
    page.evaluate(f"localStorage.setItem('llmp.study.{study}.token', {json.dumps(token + 'x')})")
    page.reload()
    expect(page.get_by_test_id("study-bad-token")).to_be_visible()
    page.get_by_test_id("study-restart").click()
    expect(page.get_by_test_id("study-consent")).to_be_visible()
    assert len(participants(live_server, study)) == 1  # the same participant, by its id


def test_researcher_page_imports_opens_watches_and_previews(
    browser: Any, page: Any, live_server: LiveServer, admin_key: str
) -> None:
    sign_in(page, admin_key)
    page.get_by_role("link", name="Studies").click()
    expect(page.get_by_test_id("studies")).to_be_visible()
    yaml_text = "\n".join(
        [
            "id: watched",
            "name: Watched study",
            "consent_markdown: Please agree.",
            "arms:",
            "  - {name: arm-alpha, provider: scripted, model: echo}",
            "  - {name: arm-beta, provider: scripted, model: echo}",
            "completion: {min_turns: 1, code: W1}",
        ]
    )
    page.get_by_test_id("study-definition").fill(yaml_text)
    page.get_by_test_id("study-create").click()
    card = page.locator("[data-study-id=watched]")
    expect(card.get_by_test_id("study-state")).to_have_text("draft")
    card.get_by_test_id("study-open").click()
    expect(card.get_by_test_id("study-state")).to_have_text("open")
    expect(card.get_by_test_id("study-link")).to_have_value(
        f"{live_server.url}/s/watched?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}"
        "&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    )
    for table in ("participants", "messages", "events", "answers"):
        for fmt in ("csv", "jsonl", "parquet"):
            expect(card.get_by_test_id(f"export-{table}-{fmt}")).to_have_attribute(
                "href", f"/api/v1/studies/watched/export/{table}?format={fmt}"
            )
    with page.expect_download() as dl:
        card.get_by_test_id("export-codebook").click()
    assert "participants" in dl.value.path().read_text()

    # A participant arrives in another browser: the progress table shows it by itself.
    other = browser.new_context(base_url=live_server.url)
    p2 = other.new_page()
    p2.goto("/s/watched?PROLIFIC_PID=pp-watched-1")
    p2.get_by_test_id("consent-agree").click()
    expect(p2.get_by_test_id("study-task")).to_be_visible()
    other.close()
    ((_, arm, _, _),) = participants(live_server, "watched")
    expect(card.locator(f"tr[data-arm={arm}] [data-col=consented]")).to_have_text("1")
    card.get_by_test_id("study-participants").locator("summary").click()
    rows = card.get_by_test_id("study-participants").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("[data-col=status]")).to_have_text("task")
    assert "pp-watched-1" not in card.inner_text()  # pseudonyms only

    # Edit after a real participant: a new version.
    card.get_by_test_id("study-edit").click()
    form = page.get_by_test_id("study-definition")
    expect(form).not_to_have_value("")  # filled in after the click
    edited = json.loads(form.input_value())
    edited["name"] = "Watched study, reworded"
    form.fill(json.dumps(edited))
    page.get_by_test_id("study-create").click()
    expect(card.locator("h2")).to_have_text("Watched study, reworded")
    expect(card).to_contain_text("version 2")

    # Preview an arm: a new tab, marked, not counted.
    with page.context.expect_page() as opened:
        card.get_by_test_id("preview-arm-beta").click()
    preview = opened.value
    expect(preview.get_by_test_id("preview-badge")).to_have_text("Preview")
    expect(preview.get_by_test_id("study-consent")).to_be_visible()
    assert "token=" not in preview.url
    screenshot(page, "studies-page")
    preview.close()
    assert [r[3] for r in participants(live_server, "watched")].count(1) == 1
