"""The product agent: shopping criteria -> one catalog search within budget and category,
returning product cards (SQLite and PostgreSQL)."""

from __future__ import annotations

from llm_platform.agents.product_agent import find_products, search_text
from llm_platform.agents.shopping_agent import ShoppingCriteria
from llm_platform.core.config import Settings
from llm_platform.db.engine import create_database
from llm_platform.db.migrate import upgrade
from llm_platform.rag.embeddings import LocalEmbedder
from llm_platform.rag.products import ProductSearch
from llm_platform.schemas.products import ProductCard
from tests.support.products import seed_catalog


async def test_find_products_within_budget_and_category(
    database_url: str, embedder: LocalEmbedder
) -> None:
    db = create_database(Settings(_env_file=None, DATABASE_URL=database_url))
    try:
        await upgrade(db.engine)
        await seed_catalog(db, embedder)
        search = ProductSearch(db, embedder)
        criteria = ShoppingCriteria(
            category="headphones", use_case="Commuting and travel",
            budget_max=300, must_haves=["Noise cancelling"], done=True,
        )  # fmt: skip
        assert search_text(criteria, "") == "Headphones Commuting and travel Noise cancelling"
        cards = await find_products(search, criteria, "", limit=4)
        assert cards and all(type(c) is ProductCard for c in cards)
        assert all(c.category == "headphones" and c.price <= 300 for c in cards)
        assert "Noise-Cancelling" in cards[0].title

        # A budget in the user's words applies when the interview set none.
        cheap = await find_products(search, ShoppingCriteria(), "a coffee maker under $100")
        assert cheap and all(c.price <= 100 for c in cheap)
        assert cheap[0].category == "coffee-makers"

        # Nothing in the category: searched without it (never over budget).
        odd = ShoppingCriteria(category="kites", budget_max=130)
        bags = await find_products(search, odd, "backpack")
        assert bags and all(c.price <= 130 for c in bags)
        assert bags[0].category == "backpacks"
        facts = await search.facts()
        assert "headphones" in facts.categories
        q1, q2, q3 = facts.price_quartiles["headphones"]
        assert q1 <= q2 <= q3
    finally:
        await db.dispose()
