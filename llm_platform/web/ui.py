"""Serves the web app from this package: the page for each of the app's routes and the
bundle's hashed assets (long-lived cache), all under a Content-Security-Policy that allows
only the app's own scripts (no inline script, no CDN)."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from llm_platform import __version__
from llm_platform.core.config import Settings
from llm_platform.core.errors import NotFound
from llm_platform.services.studies.definitions import frame_origins

PACKAGE_DIR = Path(__file__).parent
STATIC_DIR = PACKAGE_DIR / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
IMMUTABLE = "public, max-age=31536000, immutable"
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".svg": "image/svg+xml",
}
# Paths of the single-page app that answer with the page (the app routes in the browser).
APP_ROUTES = ["/", "/dashboard", "/experiments", "/studies", "/memories", "/c/{session_id}"]


@dataclass(frozen=True)
class Bundle:
    """What `web/build.mjs` wrote: the entry files (content-hashed names) and all files."""

    js: str
    css: str
    files: frozenset[str]


def load_bundle(static_dir: Path = STATIC_DIR) -> Bundle | None:
    try:
        manifest = json.loads((static_dir / "manifest.json").read_text("utf-8"))
        return Bundle(js=manifest["js"], css=manifest["css"], files=frozenset(manifest["files"]))
    except (OSError, ValueError, KeyError):
        return None


NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>Web UI not built</title>
<h1>The web UI has not been built</h1>
<p>Run <code>make install</code> (it runs <code>npm ci</code> and <code>npm run build</code> in
<code>web/</code>), then restart the server. The API is available under <code>/api/v1</code>.</p>
"""


def page_config(settings: Settings) -> dict[str, object]:
    """What the page needs to know about the server, embedded as a meta tag (not a script)."""
    return {
        "app_name": settings.APP_NAME,
        "version": __version__,
        "tracking": settings.UI_TRACKING_ENABLED,
        "auth_mode": settings.AUTH_MODE.value,
    }


def render_index(template: str, bundle: Bundle, settings: Settings) -> str:
    config = html.escape(json.dumps(page_config(settings), separators=(",", ":")), quote=True)
    return (
        template.replace("{{CONFIG}}", config)
        .replace("{{TITLE}}", html.escape(settings.APP_NAME))
        .replace("{{CSS}}", html.escape(bundle.css))
        .replace("{{JS}}", html.escape(bundle.js))
    )


def study_page_headers(origins: list[str]) -> dict[str, str]:
    """The security headers with `frame-ancestors 'self'` and the study's origins (and no
    X-Frame-Options, which knows no list of origins)."""
    ancestors = " ".join(["'self'", *origins])
    policy = CONTENT_SECURITY_POLICY.replace(
        "frame-ancestors 'none'", f"frame-ancestors {ancestors}"
    )
    headers = {k: v for k, v in SECURITY_HEADERS.items() if k != "X-Frame-Options"}
    headers["Content-Security-Policy"] = policy
    return headers


def build_web_router(settings: Settings, static_dir: Path = STATIC_DIR) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    template = (PACKAGE_DIR / "index.html").read_text("utf-8")
    cached: dict[str, Bundle] = {}

    def bundle() -> Bundle | None:
        # Read once; looked up again while missing so a build done after start is picked up.
        if "b" not in cached:
            found = load_bundle(static_dir)
            if found is None:
                return None
            cached["b"] = found
        return cached["b"]

    async def index() -> Response:
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
        found = bundle()
        if found is None:
            return HTMLResponse(NOT_BUILT, status_code=503, headers=headers)
        return HTMLResponse(render_index(template, found, settings), headers=headers)

    for path in APP_ROUTES:
        router.add_api_route(path, index, methods=["GET", "HEAD"])

    @router.api_route("/s/{study_id}", methods=["GET", "HEAD"])
    async def study_page(study_id: str, request: Request) -> Response:
        """A study's participant link: the app's page, which a survey tool may frame from
        the study's allowed origins (`frame-ancestors`); the app shows closed, full or
        unknown studies from its enter call's answer."""
        origins = await frame_origins(request.app.state.platform.db, study_id)
        headers = {**study_page_headers(origins), "Cache-Control": "no-cache"}
        found = bundle()
        if found is None:
            return HTMLResponse(NOT_BUILT, status_code=503, headers=headers)
        return HTMLResponse(render_index(template, found, settings), headers=headers)

    @router.api_route("/assets/{name}", methods=["GET", "HEAD"])
    async def asset(name: str) -> Response:
        if name == "favicon.svg":
            return FileResponse(
                PACKAGE_DIR / "favicon.svg",
                media_type=MEDIA_TYPES[".svg"],
                headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=86400"},
            )
        found = bundle()
        if found is None or name not in found.files:
            raise NotFound("No such asset")
        suffix = Path(name).suffix
        return FileResponse(
            static_dir / name,
            media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"),
            headers={**SECURITY_HEADERS, "Cache-Control": IMMUTABLE},
        )

    return router
