"""The API's interactive docs (Swagger UI at /docs, ReDoc at /redoc) from packaged assets.

FastAPI's default pages load Swagger UI from a CDN (blank offline) with an inline script
(impossible under a strict Content-Security-Policy). Here the scripts and styles come from
the `fastapi-offline` package's copy of Swagger UI and ReDoc, served by this app, and the
start-up code is a file of its own, so the pages work offline under a CSP that allows only
this origin's scripts.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from llm_platform.core.errors import NotFound


def _assets_dir() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
# Swagger UI and ReDoc set style attributes (hence 'unsafe-inline' for styles only); ReDoc
# runs its search in a worker built from a blob. No inline script, nothing from elsewhere.
DOCS_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
DOCS_HEADERS = {
    "Content-Security-Policy": DOCS_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

SWAGGER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title} - Swagger UI</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head><body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>
"""
SWAGGER_INIT = """window.ui = SwaggerUIBundle({{
  url: {openapi_url},
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
}});
"""
REDOC_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title} - ReDoc</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon.png">
</head><body>
<redoc spec-url="{openapi_url}"></redoc>
<script src="/docs/assets/redoc.standalone.js"></script>
</body></html>
"""


def build_docs_router(title: str, openapi_url: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    assets = _assets_dir()
    escaped = html.escape(title)
    swagger_page = SWAGGER_PAGE.format(title=escaped)
    redoc_page = REDOC_PAGE.format(title=escaped, openapi_url=html.escape(openapi_url))
    init_js = SWAGGER_INIT.format(openapi_url=json.dumps(openapi_url))

    @router.get("/docs")
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger_page, headers=DOCS_HEADERS)

    @router.get("/redoc")
    async def redoc() -> HTMLResponse:
        return HTMLResponse(redoc_page, headers=DOCS_HEADERS)

    @router.get("/docs/init.js")
    async def swagger_init() -> Response:
        return Response(init_js, media_type="text/javascript; charset=utf-8", headers=DOCS_HEADERS)

    @router.get("/docs/assets/{name}")
    async def asset(name: str) -> FileResponse:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise NotFound("No such docs asset")
        return FileResponse(
            assets / name,
            media_type=media_type,
            headers={"Cache-Control": "public, max-age=86400", **DOCS_HEADERS},
        )

    return router
