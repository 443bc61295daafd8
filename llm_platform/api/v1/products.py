from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from llm_platform.api.deps import CurrentUser, State
from llm_platform.api.params import PathId
from llm_platform.schemas.common import SafeStr
from llm_platform.schemas.products import ProductDetail, ProductSearchResponse
from llm_platform.services import products as product_service

router = APIRouter(prefix="/products", tags=["products"])

Price = Annotated[float | None, Query(ge=0, le=1e9)]


@router.get("/search", response_model=ProductSearchResponse)
async def search(
    state: State,
    user: CurrentUser,
    q: Annotated[str, Query(max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")] = "",
    min_price: Price = None,
    max_price: Price = None,
    category: Annotated[SafeStr | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> ProductSearchResponse:
    """Products for a query (keyword + meaning, fused), within a price range and category;
    with no query, the best rated. Local catalog, or Google Shopping when configured."""
    return await product_service.search(
        state.products,
        query=q,
        min_price=min_price,
        max_price=max_price,
        category=category,
        limit=limit,
    )


@router.get("/{product_id}", response_model=ProductDetail)
async def get_product(state: State, user: CurrentUser, product_id: PathId) -> ProductDetail:
    return await product_service.get(state.products, product_id)
