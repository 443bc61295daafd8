"""GET /api/v1/products/search and /products/{id} on SQLite and PostgreSQL: the hybrid
search over the catalog table (vectors filled in when the index loads), filters, bad
parameters (422), unknown ids (404), and a catalog change picked up by the index."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from llm_platform.core.config import Settings
from llm_platform.rag.embeddings import LocalEmbedder
from llm_platform.services.products.demo import demo_catalog
from llm_platform.services.products.importer import write_products
from tests.conftest import AppClient, app_client
from tests.support.products import seed_catalog

USER = {"X-User-ID": "shopper"}


async def test_search_filters_and_get(client: AppClient, embedder: LocalEmbedder) -> None:
    state = client.app.state.platform
    await seed_catalog(state.db)  # no vectors stored: the index embeds the rows itself

    r = await client.get("/api/v1/products/search", params={"q": "espresso machine"}, headers=USER)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items and items[0]["category"] == "coffee-makers"
    assert "espresso" in items[0]["title"].lower()
    assert set(items[0]) >= {"id", "title", "price", "currency", "category", "url", "image_url",
                             "rating", "description", "source", "score"}  # fmt: skip
    assert items[0]["source"] == "local" and items[0]["score"] > 0

    # A paraphrase with no shared word still finds headphones (vector side of the fusion).
    r = await client.get(
        "/api/v1/products/search",
        params={"q": "block the drone of airplanes while I fly", "limit": 3},
        headers=USER,
    )
    top = r.json()["items"]
    assert len(top) == 3 and top[0]["category"] == "headphones"
    assert "vector" in top[0]["matched_by"]

    r = await client.get(
        "/api/v1/products/search",
        params={"q": "laptop", "max_price": 900, "min_price": 300, "category": "laptops"},
        headers=USER,
    )
    laptops = r.json()["items"]
    assert laptops and all(p["category"] == "laptops" and 300 <= p["price"] <= 900 for p in laptops)

    r = await client.get("/api/v1/products/search", params={"category": "backpacks"}, headers=USER)
    browsed = r.json()["items"]
    assert browsed and {p["category"] for p in browsed} == {"backpacks"}
    ratings = [p["rating"] for p in browsed]
    assert ratings == sorted(ratings, reverse=True)

    one = await client.get(f"/api/v1/products/{items[0]['id']}", headers=USER)
    assert one.status_code == 200
    assert one.json()["attributes"]["type"] == "espresso"
    missing = await client.get("/api/v1/products/nope", headers=USER)
    assert missing.status_code == 404 and missing.json()["type"] == "not_found"


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x", "min_price": 500, "max_price": 100},
        {"q": "x", "max_price": -1},
        {"q": "x", "limit": 0},
        {"q": "x", "limit": 51},
        {"q": "x", "max_price": "cheap"},
        {"q": "bad\x00query"},
        {"q": "x" * 501},
        {"q": "x", "category": "a\x01b"},
    ],
)
async def test_bad_parameters_are_422(client: AppClient, params: dict[str, object]) -> None:
    r = await client.get("/api/v1/products/search", params=params, headers=USER)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"] == "validation_error" and "request_id" in body


async def test_needs_a_caller(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(AUTH_MODE="api_key", TRUST_CLIENT_USER_ID=False)
    async with app_client(settings) as client:
        r = await client.get("/api/v1/products/search", params={"q": "tv"})
        assert r.status_code == 401
        assert (await client.get("/api/v1/products/demo-0001")).status_code == 401


async def test_index_follows_catalog_changes(make_settings: Callable[..., Settings]) -> None:
    """An import from elsewhere (another process, here straight into the table) shows up at
    the next version check; a changed row is served changed."""
    async with app_client(make_settings()) as client:
        state = client.app.state.platform
        state.products.recheck_seconds = 0.0
        search = {"q": "television"}
        assert (
            await client.get("/api/v1/products/search", params=search, headers=USER)
        ).json() == {"items": []}
        await write_products(state.db, None, demo_catalog(16, seed=1))
        found = (await client.get("/api/v1/products/search", params=search, headers=USER)).json()
        first = found["items"][0]
        assert first["category"] == "televisions"
        changed = demo_catalog(16, seed=1)
        changed = [
            p.model_copy(update={"price": 1.0}) if p.id == first["id"] else p for p in changed
        ]
        await write_products(state.db, None, changed)
        again = await client.get(f"/api/v1/products/{first['id']}", headers=USER)
        assert again.json()["price"] == 1.0
