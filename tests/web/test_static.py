"""Serving the web app: the page on each app route, hashed assets with long-lived caching,
and a Content-Security-Policy that forbids inline scripts, without needing a browser."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from llm_platform.core.config import Settings
from llm_platform.middleware.error_handlers import install_error_handlers
from llm_platform.web.ui import CONTENT_SECURITY_POLICY, build_web_router
from tests.conftest import AppClient


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    static = tmp_path / "static"
    static.mkdir()
    (static / "app-ABC123.js").write_text("console.log('app')")
    (static / "app-DEF456.css").write_text("body{}")
    (static / "secret.txt").write_text("not part of the bundle")
    manifest = {
        "js": "app-ABC123.js",
        "css": "app-DEF456.css",
        "files": ["app-ABC123.js", "app-DEF456.css"],
    }
    (static / "manifest.json").write_text(json.dumps(manifest))
    settings = Settings(_env_file=None, APP_NAME='Lab "<b>"')  # type: ignore[call-arg]
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(build_web_router(settings, static))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        yield client


def _csp(value: str) -> dict[str, str]:
    out = {}
    for part in value.split(";"):
        name, _, rest = part.strip().partition(" ")
        out[name] = rest
    return out


@pytest.mark.parametrize(
    "path", ["/", "/dashboard", "/experiments", "/studies", "/memories", "/c/some-session"]
)
async def test_page_on_every_app_route(web: httpx.AsyncClient, path: str) -> None:
    r = await web.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"
    assert '<script type="module" src="/assets/app-ABC123.js"></script>' in r.text
    assert '<link rel="stylesheet" href="/assets/app-DEF456.css">' in r.text
    # No inline script at all: the config travels in a meta tag, HTML-escaped.
    assert r.text.count("<script") == 1
    assert "&lt;b&gt;" in r.text and "<b>" not in r.text
    csp = _csp(r.headers["content-security-policy"])
    assert csp["script-src"] == "'self'"
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    assert csp["object-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["connect-src"] == "'self'"
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_assets_cached_for_a_year_and_only_bundle_files(web: httpx.AsyncClient) -> None:
    r = await web.get("/assets/app-ABC123.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    css = await web.get("/assets/app-DEF456.css")
    assert css.headers["content-type"].startswith("text/css")
    for bad in ["secret.txt", "manifest.json", "..%2Fmanifest.json", "app-XXXX.js"]:
        assert (await web.get(f"/assets/{bad}")).status_code == 404, bad
    icon = await web.get("/assets/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"


async def test_page_explains_when_bundle_is_missing(tmp_path: Path) -> None:
    app = FastAPI()
    app.include_router(build_web_router(Settings(_env_file=None), tmp_path))  # type: ignore[call-arg]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/")
    assert r.status_code == 503
    assert "make install" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]


async def test_app_serves_ui_and_api_side_by_side(client: AppClient) -> None:
    r = await client.get("/")
    assert r.status_code in (200, 503)  # 503 only when the bundle was not built
    assert "content-security-policy" in r.headers
    assert (await client.get("/api/v1/health")).status_code == 200
    assert (await client.get("/docs")).status_code == 200
