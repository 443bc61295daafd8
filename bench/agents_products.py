"""Product search quality: nDCG@10 of hybrid search (keyword + vector, reciprocal-rank
fusion) against plain keyword search, in the same run, over the generated demo catalog.

The labelled set: 36 queries, each with a graded relevance rule over the catalog's
attributes (2 = what was asked for, 1 = the right kind of product, 0 = anything else):
keyword-style queries, mixed ones, and paraphrases that share no word with the products'
titles, descriptions or attributes (marked `paraphrase`). Part of `bench/agents.py`.

    python bench/agents_products.py            # 200 products, seed 7
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llm_platform.rag.products.ranking import (  # noqa: E402
    CatalogIndex,
    CatalogItem,
    Filters,
    SearchMode,
)
from llm_platform.services.products.demo import demo_catalog  # noqa: E402

Grade = Callable[[CatalogItem], int]
K = 10


def graded(category: str, best: Callable[[dict[str, object]], bool]) -> Grade:
    """2 for the category's products that fit `best`, 1 for the category's others."""

    def grade(item: CatalogItem) -> int:
        if item.category != category:
            return 0
        return 2 if best(item.attributes) else 1

    return grade


def graded_strict(
    category: str, best: Callable[[dict[str, object]], bool], ok: Callable[[dict[str, object]], bool]
) -> Grade:
    """2 for `best`, 1 for `ok` (partly right), 0 for the rest of the category."""

    def grade(item: CatalogItem) -> int:
        if item.category != category:
            return 0
        return 2 if best(item.attributes) else 1 if ok(item.attributes) else 0

    return grade


@dataclass(frozen=True)
class Labelled:
    query: str
    grade: Grade
    kind: str  # keyword | mixed | paraphrase


def _a(key: str, value: object) -> Callable[[dict[str, object]], bool]:
    return lambda a: a.get(key) == value


def _all(*tests: Callable[[dict[str, object]], bool]) -> Callable[[dict[str, object]], bool]:
    return lambda a: all(t(a) for t in tests)


def _num(key: str, at_least: float) -> Callable[[dict[str, object]], bool]:
    return lambda a: float(a.get(key, 0) or 0) >= at_least  # type: ignore[arg-type]


QUERIES: list[Labelled] = [
    # ---- keyword-style
    Labelled("noise cancelling headphones", graded("headphones", _a("noise_cancelling", True)), "keyword"),
    Labelled("gaming laptop", graded("laptops", _a("type", "gaming")), "keyword"),
    Labelled("espresso machine with milk frother", graded_strict("coffee-makers", _all(_a("type", "espresso"), _a("milk_frother", True)), _a("type", "espresso")), "keyword"),
    Labelled("waterproof trail running shoes", graded_strict("running-shoes", _all(_a("terrain", "trail"), _a("waterproof", True)), _a("terrain", "trail")), "keyword"),
    Labelled("OLED TV", graded("televisions", _a("panel", "OLED")), "keyword"),
    Labelled("hiking backpack", graded("backpacks", _a("type", "hiking")), "keyword"),
    Labelled("ergonomic office chair with lumbar support", graded("office-chairs", _all(_a("type", "ergonomic"), _a("lumbar_support", True))), "keyword"),
    Labelled("rugged smartphone", graded("smartphones", _a("tier", "rugged")), "keyword"),
    Labelled("wireless earbuds", graded_strict("headphones", _all(_a("form", "in-ear"), _a("wireless", True)), _a("wireless", True)), "keyword"),
    Labelled("programmable drip coffee maker", graded_strict("coffee-makers", _all(_a("type", "drip"), _a("programmable", True)), _a("type", "drip")), "keyword"),
    Labelled("2-in-1 laptop touchscreen", graded("laptops", _a("type", "2-in-1")), "keyword"),
    Labelled("65 inch 4K TV", graded_strict("televisions", _all(_a("size_in", 65), _a("resolution", "4K")), _num("size_in", 55)), "keyword"),
    Labelled("travel backpack", graded("backpacks", _a("type", "travel")), "keyword"),
    Labelled("compact smartphone", graded("smartphones", _a("tier", "compact")), "keyword"),
    Labelled("max cushioning road running shoes", graded_strict("running-shoes", _all(_a("terrain", "road"), _a("cushioning", "max")), _a("terrain", "road")), "keyword"),
    Labelled("cold brew coffee maker", graded("coffee-makers", _a("type", "cold-brew")), "keyword"),
    Labelled("gaming chair", graded("office-chairs", _a("type", "gaming")), "keyword"),
    Labelled("QLED TV", graded("televisions", _a("panel", "QLED")), "keyword"),
    # ---- mixed: some words shared, some not
    Labelled("bag for my 15 inch work computer on the train", graded_strict("backpacks", _a("type", "commuter"), lambda a: "laptop_sleeve_in" in a), "mixed"),
    Labelled("cheap computer for kids' schoolwork", graded("laptops", _a("type", "budget")), "mixed"),
    Labelled("phone that takes great night photos", graded("smartphones", _a("tier", "flagship")), "mixed"),
    Labelled("coffee without paper filters", graded("coffee-makers", _a("type", "french-press")), "mixed"),
    Labelled("television for ps5 and xbox with smooth motion", graded("televisions", _num("refresh_hz", 120)), "mixed"),
    Labelled("racing seat for esports", graded("office-chairs", _a("type", "gaming")), "mixed"),
    # ---- paraphrases: no word in common with the catalog's text
    Labelled("block the drone of airplanes while I fly", graded("headphones", _a("noise_cancelling", True)), "paraphrase"),
    Labelled("portable computer for playing video games", graded("laptops", _a("type", "gaming")), "paraphrase"),
    Labelled("café-quality Italian shots with foamy topping in my kitchen", graded_strict("coffee-makers", _all(_a("type", "espresso"), _a("milk_frother", True)), _a("type", "espresso")), "paraphrase"),
    Labelled("footwear for jogging on muddy mountain paths", graded("running-shoes", _a("terrain", "trail")), "paraphrase"),
    Labelled("wall-mounted telly for film evenings with inky shadows", graded_strict("televisions", _a("panel", "OLED"), _num("size_in", 50)), "paraphrase"),
    Labelled("somewhere comfy to sit that keeps my spine happy through nine-to-five shifts", graded("office-chairs", _a("type", "ergonomic")), "paraphrase"),
    Labelled("rucksack for overnight mountain expeditions", graded("backpacks", _a("type", "hiking")), "paraphrase"),
    Labelled("a cell that survives falls at a construction job", graded("smartphones", _a("tier", "rugged")), "paraphrase"),
    Labelled("tiny mobile for petite palms", graded("smartphones", _a("tier", "compact")), "paraphrase"),
    Labelled("freshly made pot of joe waiting for me at sunrise", graded_strict("coffee-makers", _all(_a("type", "drip"), _a("programmable", True)), _a("type", "drip")), "paraphrase"),
    Labelled("featherweight notebook computer to carry between airports", graded("laptops", _a("type", "ultrabook")), "paraphrase"),
    Labelled("chilled steeped caffeine drink for summer", graded("coffee-makers", _a("type", "cold-brew")), "paraphrase"),
]  # fmt: skip


def ndcg_at_k(ranked: list[int], grades: list[int], k: int = K) -> float:
    dcg = sum((2 ** grades[i] - 1) / math.log2(r + 2) for r, i in enumerate(ranked[:k]))
    ideal = sorted(grades, reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(r + 2) for r, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def _embedder():  # type: ignore[no-untyped-def]
    from llm_platform.rag.embeddings import LocalEmbedder

    return LocalEmbedder()


async def evaluate(
    count: int = 200, seed: int = 7
) -> tuple[dict[SearchMode, list[float]], float, int]:
    """nDCG@10 per query and mode, the catalog's embedding time, and its size."""
    embedder = _embedder()
    products = demo_catalog(count, seed)
    items = [CatalogItem(**p.model_dump()) for p in products]
    from llm_platform.rag.products.ranking import embedding_text

    started = time.perf_counter()
    vectors = await embedder.embed_documents([embedding_text(i) for i in items])
    embed_s = time.perf_counter() - started
    index = CatalogIndex(items, vectors)
    scores: dict[SearchMode, list[float]] = {"keyword": [], "hybrid": [], "vector": []}
    for labelled in QUERIES:
        grades = [labelled.grade(item) for item in items]
        query_vector = (await embedder.embed_query(labelled.query))[0]
        for mode in scores:
            ranked = index.search(labelled.query, query_vector, Filters(), K, mode)
            scores[mode].append(ndcg_at_k([r.index for r in ranked], grades))
    return scores, embed_s, len(items)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def run() -> list[str]:
    scores, embed_s, size = asyncio.run(evaluate())
    lines = [
        f"Product search nDCG@{K}: {len(QUERIES)} labelled queries over the demo catalog "
        f"({size} products, embedded in {embed_s:.1f} s)",
        f"  {'query':<62} {'kind':<10} {'keyword':>7} {'hybrid':>7} {'vector':>7}",
    ]
    for n, labelled in enumerate(QUERIES):
        lines.append(
            f"  {labelled.query[:62]:<62} {labelled.kind:<10} {scores['keyword'][n]:>7.3f} "
            f"{scores['hybrid'][n]:>7.3f} {scores['vector'][n]:>7.3f}"
        )
    for kind in ("keyword", "mixed", "paraphrase", None):
        picked = [n for n, q in enumerate(QUERIES) if kind is None or q.kind == kind]
        label = f"mean ({kind}, {len(picked)})" if kind else f"mean (all, {len(picked)})"
        lines.append(
            f"  {label:<73} "
            + " ".join(f"{_mean([scores[m][n] for n in picked]):>7.3f}"
                       for m in ("keyword", "hybrid", "vector"))  # fmt: skip
        )
    return lines


if __name__ == "__main__":
    for line in run():
        print(line)
