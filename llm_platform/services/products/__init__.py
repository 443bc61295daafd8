"""Products: catalog search and lookup for the API (the search itself is
`rag.products.ProductSearch`), import and the generated demo catalog for the CLI."""

from __future__ import annotations

from llm_platform.core.errors import NotFound, ValidationFailed
from llm_platform.rag.products import Filters, ProductSearch
from llm_platform.schemas.products import ProductDetail, ProductSearchResponse


async def search(
    products: ProductSearch,
    *,
    query: str,
    min_price: float | None,
    max_price: float | None,
    category: str | None,
    limit: int,
) -> ProductSearchResponse:
    if min_price is not None and max_price is not None and min_price > max_price:
        raise ValidationFailed("min_price is above max_price")
    filters = Filters(min_price=min_price, max_price=max_price, category=category)
    return ProductSearchResponse(items=await products.search(query, filters, limit))


async def get(products: ProductSearch, product_id: str) -> ProductDetail:
    found = await products.get(product_id)
    if found is None:
        raise NotFound("Product not found")
    return found
