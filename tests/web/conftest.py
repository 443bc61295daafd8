"""Browser end-to-end fixtures: a real uvicorn server on 127.0.0.1 (in a thread, with the
scripted streaming provider) and Debian's Chromium driven by Playwright (the helpers behind
them, and what tests do on a page, are in tests/support/browser.py).

Chromium and the built web bundle are required on CI; elsewhere their absence skips these
tests with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (  # noqa: F401  (drop_file, screenshot, sign_in: re-exported)
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    drop_file,
    require,
    screenshot,
    serve_platform,
    sign_in,
)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serve_platform(tmp_path_factory.mktemp("e2e")) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require(Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # A new browser first mints its participant token, then loads; on a busy 2-core machine
    # that can take longer than the 5 s an assertion waits by default.
    sync_api.expect.set_options(timeout=15_000)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh browser profile (new anonymous user) per test; page errors fail the test."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 820}, color_scheme="light"
    )
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.set_default_timeout(15_000)
    yield pg
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
