"""The product agent: the shopping criteria (and the user's words) as one catalog search."""

from __future__ import annotations

from llm_platform.agents.shopping_agent import ShoppingCriteria
from llm_platform.agents.shopping_rules import NO_PREFERENCE, category_label, parse_budget
from llm_platform.rag.products import Filters, ProductSearch
from llm_platform.schemas.products import ProductCard


def search_text(criteria: ShoppingCriteria, query: str) -> str:
    """The words to search with: the category, the use case, the must-haves and the query
    (each once)."""
    parts = [
        category_label(criteria.category) if criteria.category else "",
        criteria.use_case or "",
        *[m for m in criteria.must_haves if m != NO_PREFERENCE],
        query,
    ]
    seen: list[str] = []
    for part in parts:
        part = part.strip()
        if part and part.lower() not in (s.lower() for s in seen):
            seen.append(part)
    return " ".join(seen)


async def find_products(
    search: ProductSearch, criteria: ShoppingCriteria, query: str, limit: int = 6
) -> list[ProductCard]:
    """Cards of the best matches within the budget and category; when the category has
    nothing in the budget, the search runs without the category (never over budget)."""
    budget = criteria.budget_max if criteria.budget_max is not None else parse_budget(query)
    text = search_text(criteria, query)
    filters = Filters(max_price=budget, category=criteria.category)
    hits = await search.search(text, filters, limit)
    if not hits and criteria.category is not None:
        hits = await search.search(text, Filters(max_price=budget), limit)
    return [ProductCard.model_validate(h.model_dump(exclude={"score", "matched_by"})) for h in hits]
