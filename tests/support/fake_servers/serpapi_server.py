"""A fake SerpAPI on 127.0.0.1: `GET /search.json?engine=google_shopping&q=...&api_key=...`
answered with `shopping_results` in SerpAPI's JSON shape (title, product_id, product_link,
source, price as text, extracted_price, rating, reviews, thumbnail, extensions)."""

from __future__ import annotations

from typing import Any

from tests.support.fake_servers.server import FakeServer, Reply, Request

SERPAPI_TEST_KEY = "serp-test-key"

RESULTS: list[dict[str, Any]] = [
    {
        "position": 1,
        "title": "Acme QuietWave Noise Cancelling Headphones",
        "product_id": "1111",
        "product_link": "https://www.google.com/shopping/product/1111",
        "source": "Example Electronics",
        "price": "$149.99",
        "extracted_price": 149.99,
        "rating": 4.6,
        "reviews": 1200,
        "thumbnail": "https://img.example/1111.jpg",
        "extensions": ["Bluetooth", "30 h battery"],
    },
    {
        "position": 2,
        "title": "Acme StudioMax Over-Ear Headphones",
        "product_id": "2222",
        "product_link": "https://www.google.com/shopping/product/2222",
        "source": "Sound Shop",
        "price": "$329.00",
        "extracted_price": 329.0,
        "rating": 4.8,
        "thumbnail": "https://img.example/2222.jpg",
    },
    {  # no price: skipped by the adapter
        "position": 3,
        "title": "Acme Mystery Headphones",
        "product_id": "3333",
        "source": "Nowhere",
    },
    {
        "position": 4,
        "title": "Acme BudgetBuds",
        "product_id": "4444",
        "link": "https://shop.example/budgetbuds",
        "source": "Bargain Store",
        "price": "€39.50",
        "extracted_price": 39.5,
    },
]


class FakeSerpApi(FakeServer):
    def __init__(self, key: str = SERPAPI_TEST_KEY) -> None:
        super().__init__()
        self.key = key

    def handle(self, request: Request) -> Reply:
        if request.method != "GET" or request.path != "/search.json":
            return Reply.json({"error": "Not found"}, status=404)
        if request.query.get("api_key") != self.key:
            return Reply.json({"error": "Invalid API key."}, status=401)
        if request.query.get("engine") != "google_shopping":
            return Reply.json({"error": "Unsupported engine"}, status=400)
        return Reply.json(
            {
                "search_metadata": {"status": "Success"},
                "search_parameters": {"engine": "google_shopping", "q": request.query.get("q")},
                "shopping_results": RESULTS,
            }
        )
