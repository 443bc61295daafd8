"""The catalog index: BM25-style keyword ranking, filters, fusion, and the vector ranking
that finds what a paraphrase means (the real local embedding model)."""

from __future__ import annotations

import numpy as np

from llm_platform.rag.embeddings import LocalEmbedder
from llm_platform.rag.products.ranking import (
    CatalogIndex,
    CatalogItem,
    Filters,
    embedding_text,
    fuse,
    stem,
    tokens,
)
from llm_platform.services.products.demo import CATEGORIES, demo_catalog


def _item(pid: str, title: str, description: str = "", category: str = "misc",
          price: float = 10.0, **attributes: object) -> CatalogItem:  # fmt: skip
    return CatalogItem(id=pid, title=title, description=description, category=category,
                       price=price, attributes=dict(attributes))  # fmt: skip


def test_tokens_stem_plurals_and_drop_stopwords() -> None:
    assert tokens("The Headphones for running") == ["headphone", "runn"]
    assert stem("batteries") == "battery" and stem("glass") == "glass"


def test_title_matches_outrank_description_mentions() -> None:
    index = CatalogIndex(
        [
            _item("a", "Travel mug", "Keeps coffee hot; fits under an espresso machine"),
            _item("b", "Espresso machine", "15-bar pump"),
            _item("c", "Desk lamp", "Warm light"),
        ]
    )
    ranked = index.search("espresso machine", None, Filters(), 10, "keyword")
    assert [index.items[r.index].id for r in ranked] == ["b", "a"]
    assert all(r.matched_by == ("keyword",) for r in ranked)


def test_filters_price_and_category() -> None:
    index = CatalogIndex(
        [
            _item("cheap", "Wireless headphones", category="headphones", price=40),
            _item("dear", "Wireless headphones pro", category="headphones", price=300),
            _item("bag", "Wireless charging backpack", category="backpacks", price=90),
        ]
    )
    ids = lambda f: [index.items[r.index].id for r in index.search("wireless", None, f, 10)]  # noqa: E731
    assert set(ids(Filters())) == {"cheap", "dear", "bag"}
    assert ids(Filters(max_price=100, category="Headphones")) == ["cheap"]
    assert set(ids(Filters(min_price=50))) == {"dear", "bag"}
    assert ids(Filters(min_price=1000)) == []


def test_no_query_browses_best_rated_first() -> None:
    items = [
        CatalogItem(id="x", title="X", description="", category="c", price=5, rating=3.0),
        CatalogItem(id="y", title="Y", description="", category="c", price=9, rating=4.5),
    ]
    ranked = CatalogIndex(items).search("  ", None, Filters(), 10)
    assert [r.index for r in ranked] == [1, 0]


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = fuse({"keyword": [(1, 9.0), (2, 5.0)], "vector": [(2, 0.9), (3, 0.8)]})
    assert fused[0].index == 2 and fused[0].matched_by == ("keyword", "vector")
    assert fused[0].score == 1 / 62 + 1 / 61


def test_demo_catalog_is_deterministic_and_realistic() -> None:
    a, b = demo_catalog(80, seed=3), demo_catalog(80, seed=3)
    assert a == b and demo_catalog(80, seed=4) != a
    assert {p.category for p in a} == set(CATEGORIES) and len(CATEGORIES) == 8
    assert len({p.id for p in a}) == 80
    laptops = [p for p in a if p.category == "laptops"]
    gaming = [p.price for p in laptops if p.attributes["type"] == "gaming"]
    budget = [p.price for p in laptops if p.attributes["type"] == "budget"]
    if gaming and budget:
        assert min(gaming) > max(budget)  # prices follow the attributes


async def test_hybrid_finds_what_a_paraphrase_means(embedder: LocalEmbedder) -> None:
    """No word of the query is in the catalog: keyword search finds nothing relevant,
    the fused ranking puts noise-cancelling headphones first."""
    items = [CatalogItem(**p.model_dump()) for p in demo_catalog(48, seed=7)]
    vectors = await embedder.embed_documents([embedding_text(i) for i in items])
    index = CatalogIndex(items, vectors)
    query = "block the drone of airplanes while I fly"
    qv = await embedder.embed_query(query)

    def relevant(i: int) -> bool:
        item = items[i]
        return item.category == "headphones" and bool(item.attributes["noise_cancelling"])

    keyword = index.search(query, qv, Filters(), 5, "keyword")
    hybrid = index.search(query, qv, Filters(), 5, "hybrid")
    assert sum(relevant(r.index) for r in keyword) == 0
    assert relevant(hybrid[0].index)
    assert sum(relevant(r.index) for r in hybrid) >= 2
    assert "vector" in hybrid[0].matched_by
    # A vector-less index is keyword only, the same ranking.
    plain = CatalogIndex(items).search(query, None, Filters(), 5, "hybrid")
    assert [r.index for r in plain] == [r.index for r in keyword]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
