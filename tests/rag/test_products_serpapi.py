"""The SerpAPI Google Shopping adapter against a local fake speaking SerpAPI's JSON: the
request it sends, the cards it makes, price filters, errors, and the app using it when
SERPAPI_API_KEY is set (the local catalog answering when SerpAPI fails)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from llm_platform.core.config import Settings
from llm_platform.rag.products import Filters, SerpApiError, SerpApiShopping
from tests.conftest import app_client
from tests.support.fake_servers.serpapi_server import SERPAPI_TEST_KEY, FakeSerpApi
from tests.support.products import seed_catalog

USER = {"X-User-ID": "shopper"}


@pytest.fixture
def fake_serpapi() -> Iterator[FakeSerpApi]:
    with FakeSerpApi() as fake:
        yield fake


async def test_adapter_request_and_results(fake_serpapi: FakeSerpApi) -> None:
    async with httpx.AsyncClient() as client:
        serp = SerpApiShopping(client, SERPAPI_TEST_KEY, base_url=fake_serpapi.url)
        items = await serp.search("headphones", Filters(max_price=200, category="audio"), 10)
    sent = fake_serpapi.requests[-1].query
    assert sent["engine"] == "google_shopping" and sent["api_key"] == SERPAPI_TEST_KEY
    assert sent["q"] == "headphones audio" and sent["max_price"] == "200"
    assert [i.title for i in items] == [
        "Acme QuietWave Noise Cancelling Headphones",
        "Acme BudgetBuds",
    ]  # $329 is over the budget; the one with no price is skipped
    quiet, buds = items
    assert quiet.price == 149.99 and quiet.currency == "USD" and quiet.rating == 4.6
    assert quiet.url == "https://www.google.com/shopping/product/1111"
    assert quiet.image_url == "https://img.example/1111.jpg" and quiet.source == "serpapi"
    assert "Example Electronics" in quiet.description and quiet.category == "audio"
    assert buds.currency == "EUR" and buds.url == "https://shop.example/budgetbuds"
    assert quiet.id.startswith("serpapi-") and quiet.id != buds.id


async def test_adapter_errors(fake_serpapi: FakeSerpApi) -> None:
    async with httpx.AsyncClient() as client:
        wrong_key = SerpApiShopping(client, "nope", base_url=fake_serpapi.url)
        with pytest.raises(SerpApiError, match="401: Invalid API key"):
            await wrong_key.search("tv", Filters(), 5)
        down = SerpApiShopping(client, SERPAPI_TEST_KEY, base_url="http://127.0.0.1:9")
        with pytest.raises(SerpApiError, match="unreachable"):
            await down.search("tv", Filters(), 5)


async def test_app_uses_serpapi_and_falls_back_to_the_catalog(
    fake_serpapi: FakeSerpApi, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(SERPAPI_API_KEY=SERPAPI_TEST_KEY, SERPAPI_BASE_URL=fake_serpapi.url)
    async with app_client(settings) as client:
        await seed_catalog(client.app.state.platform.db, count=16)
        r = await client.get("/api/v1/products/search", params={"q": "headphones"}, headers=USER)
        items = r.json()["items"]
        assert [p["source"] for p in items] == ["serpapi"] * 3
        card = await client.get(f"/api/v1/products/{items[0]['id']}", headers=USER)
        assert card.status_code == 200 and card.json()["title"] == items[0]["title"]

        fake_serpapi.key = "rotated"  # SerpAPI now refuses: the local catalog answers
        r = await client.get("/api/v1/products/search", params={"q": "headphones"}, headers=USER)
        local = r.json()["items"]
        assert local and {p["source"] for p in local} == {"local"}
        assert local[0]["category"] == "headphones"
