"""Swagger UI at /docs in a real browser, offline (every request off this server is
refused) and under its Content-Security-Policy (a violation fails the test)."""

from __future__ import annotations

from typing import Any

from tests.support.browser import LiveServer


def test_swagger_ui_renders_offline_under_the_csp(page: Any, live_server: LiveServer) -> None:
    outside: list[str] = []
    console: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_local)
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    response = page.goto("/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() > 20
    assert page.locator('[data-path="/api/v1/health"]').count() >= 1
    assert not outside, outside
    violations = [m for m in console if "Content Security Policy" in m or "Refused" in m]
    assert not violations, violations
