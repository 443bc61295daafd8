"""/docs and /redoc from packaged assets: no CDN, no inline script, a CSP on every answer."""

from __future__ import annotations

import re

from tests.conftest import AppClient


async def test_docs_page_uses_only_local_assets_under_a_csp(client: AppClient) -> None:
    for page in ("/docs", "/redoc"):
        r = await client.get(page)
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-eval" not in csp
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp
        assert not re.search(r"https?://", r.text), r.text  # nothing from elsewhere
        assert not re.search(r"<script>(?!</script>)", r.text.replace("<script src", "")), r.text
        for src in re.findall(r'(?:src|href)="([^"]+)"', r.text):
            asset = await client.get(src)
            assert asset.status_code == 200, src
            assert asset.headers["x-content-type-options"] == "nosniff"
            assert len(asset.content) > 100


async def test_swagger_init_points_at_the_schema(client: AppClient) -> None:
    r = await client.get("/docs/init.js")
    assert r.headers["content-type"].startswith("text/javascript")
    assert '"/openapi.json"' in r.text
    assert (await client.get("/openapi.json")).status_code == 200


async def test_unknown_docs_asset_is_404(client: AppClient) -> None:
    r = await client.get("/docs/assets/..%2f..%2fconsts.py")
    assert r.status_code == 404
    r = await client.get("/docs/assets/core.py")
    assert r.status_code == 404
