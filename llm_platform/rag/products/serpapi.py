"""SerpAPI's Google Shopping engine as a product source (used when SERPAPI_API_KEY is set):
`GET {SERPAPI_BASE_URL}/search.json?engine=google_shopping&q=...`, its `shopping_results`
turned into catalog items (source "serpapi")."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from llm_platform.core.logging import get_logger
from llm_platform.rag.products.ranking import CatalogItem, Filters

log = get_logger("llm_platform.products")

SOURCE = "serpapi"


class SerpApiError(Exception):
    pass


def _price(result: dict[str, Any]) -> float | None:
    value = result.get("extracted_price")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    text = str(result.get("price") or "")
    digits = "".join(ch for ch in text if ch.isdigit() or ch == ".")
    try:
        return float(digits) if digits else None
    except ValueError:
        return None


def _currency(result: dict[str, Any]) -> str:
    text = str(result.get("price") or "")
    for symbol, code in (("€", "EUR"), ("£", "GBP"), ("¥", "JPY"), ("$", "USD")):
        if symbol in text:
            return code
    return "USD"


def item_from_result(result: dict[str, Any], category: str | None) -> CatalogItem | None:
    """One `shopping_results` entry as a catalog item (None: no title or no price)."""
    title = str(result.get("title") or "").strip()
    price = _price(result)
    if not title or price is None:
        return None
    key = str(result.get("product_id") or result.get("product_link") or result.get("link") or title)
    product_id = f"serpapi-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    rating = result.get("rating")
    extensions = result.get("extensions") or []
    description = "; ".join(str(e) for e in extensions if isinstance(e, str))
    seller = result.get("source")
    if seller:
        description = f"Sold by {seller}. {description}".strip()
    return CatalogItem(
        id=product_id,
        title=title[:300],
        description=description[:5000],
        category=category or "shopping",
        price=price,
        currency=_currency(result),
        url=result.get("product_link") or result.get("link"),
        image_url=result.get("thumbnail"),
        rating=float(rating) if isinstance(rating, int | float) and 0 <= rating <= 5 else None,
        attributes={"seller": str(seller)} if seller else {},
        source=SOURCE,
    )


class SerpApiShopping:
    """The Google Shopping adapter on a client built (and closed) by the app's lifespan."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_key: str,
        *,
        base_url: str = "https://serpapi.com",
        country: str = "us",
        language: str = "en",
    ) -> None:
        self.client = client
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.country = country
        self.language = language

    async def search(self, query: str, filters: Filters, limit: int) -> list[CatalogItem]:
        q = " ".join(part for part in (query.strip(), filters.category or "") if part)
        params: dict[str, str] = {
            "engine": "google_shopping",
            "q": q or "popular products",
            "api_key": self.api_key,
            "gl": self.country,
            "hl": self.language,
            "num": str(max(limit * 2, 10)),
        }
        if filters.min_price is not None:
            params["min_price"] = f"{filters.min_price:g}"
        if filters.max_price is not None:
            params["max_price"] = f"{filters.max_price:g}"
        try:
            response = await self.client.get(f"{self.base_url}/search.json", params=params)
        except httpx.HTTPError as exc:
            raise SerpApiError(f"SerpAPI unreachable: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict) or body.get("error"):
            message = body.get("error") if isinstance(body, dict) else None
            raise SerpApiError(f"SerpAPI answered {response.status_code}: {message or 'error'}")
        items = []
        for result in body.get("shopping_results") or []:
            if not isinstance(result, dict):
                continue
            item = item_from_result(result, filters.category)
            if item is None:
                continue
            if filters.min_price is not None and item.price < filters.min_price:
                continue
            if filters.max_price is not None and item.price > filters.max_price:
                continue
            items.append(item)
        return items[:limit]
