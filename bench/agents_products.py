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
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llm_platform.rag.products.ranking import (
    CatalogIndex,
    CatalogItem,
    Filters,
    SearchMode,
)
from llm_platform.services.products.demo import demo_catalog

K = 10


@dataclass(frozen=True)
class AtLeast:
    value: float


Spec = dict[str, object]


def _fits(attributes: dict[str, object], spec: Spec) -> bool:
    for key, want in spec.items():
        have = attributes.get(key)
        if isinstance(want, AtLeast):
            if not isinstance(have, int | float) or have < want.value:
                return False
        elif want is Ellipsis:  # the attribute is present
            if have is None:
                return False
        elif have != want:
            return False
    return True


@dataclass(frozen=True)
class Labelled:
    """2: the category's products that fit `best`; 1: the others that fit `ok` (None: any
    of the category); 0: the rest."""

    query: str
    kind: str  # keyword | mixed | paraphrase
    category: str
    best: Spec
    ok: Spec | None = None

    def grade(self, item: CatalogItem) -> int:
        if item.category != self.category:
            return 0
        if _fits(item.attributes, self.best):
            return 2
        return 1 if self.ok is None or _fits(item.attributes, self.ok) else 0


KW, MIX, PARA = "keyword", "mixed", "paraphrase"
HP, LAP, PH, SH = "headphones", "laptops", "smartphones", "running-shoes"
CO, BP, CH, TV = "coffee-makers", "backpacks", "office-chairs", "televisions"
ESPRESSO_FROTHER = {"type": "espresso", "milk_frother": True}

QUERIES: list[Labelled] = [
    # ---- keyword-style
    Labelled("noise cancelling headphones", KW, HP, {"noise_cancelling": True}),
    Labelled("gaming laptop", KW, LAP, {"type": "gaming"}),
    Labelled("espresso machine with milk frother", KW, CO, ESPRESSO_FROTHER, {"type": "espresso"}),
    Labelled("waterproof trail running shoes", KW, SH, {"terrain": "trail", "waterproof": True},
             {"terrain": "trail"}),
    Labelled("OLED TV", KW, TV, {"panel": "OLED"}),
    Labelled("hiking backpack", KW, BP, {"type": "hiking"}),
    Labelled("ergonomic office chair with lumbar support", KW, CH,
             {"type": "ergonomic", "lumbar_support": True}),
    Labelled("rugged smartphone", KW, PH, {"tier": "rugged"}),
    Labelled("wireless earbuds", KW, HP, {"form": "in-ear", "wireless": True}, {"wireless": True}),
    Labelled("programmable drip coffee maker", KW, CO, {"type": "drip", "programmable": True},
             {"type": "drip"}),
    Labelled("2-in-1 laptop touchscreen", KW, LAP, {"type": "2-in-1"}),
    Labelled("65 inch 4K TV", KW, TV, {"size_in": 65, "resolution": "4K"},
             {"size_in": AtLeast(55)}),
    Labelled("travel backpack", KW, BP, {"type": "travel"}),
    Labelled("compact smartphone", KW, PH, {"tier": "compact"}),
    Labelled("max cushioning road running shoes", KW, SH, {"terrain": "road", "cushioning": "max"},
             {"terrain": "road"}),
    Labelled("cold brew coffee maker", KW, CO, {"type": "cold-brew"}),
    Labelled("gaming chair", KW, CH, {"type": "gaming"}),
    Labelled("QLED TV", KW, TV, {"panel": "QLED"}),
    # ---- mixed: some words shared with the catalog, some not
    Labelled("bag for my 15 inch work computer on the train", MIX, BP, {"type": "commuter"},
             {"laptop_sleeve_in": ...}),
    Labelled("cheap computer for kids' schoolwork", MIX, LAP, {"type": "budget"}),
    Labelled("phone that takes great night photos", MIX, PH, {"tier": "flagship"}),
    Labelled("coffee without paper filters", MIX, CO, {"type": "french-press"}),
    Labelled("television for ps5 and xbox with smooth motion", MIX, TV,
             {"refresh_hz": AtLeast(120)}),
    Labelled("racing seat for esports", MIX, CH, {"type": "gaming"}),
    # ---- paraphrases: no word in common with the catalog's text
    Labelled("block the drone of airplanes while I fly", PARA, HP, {"noise_cancelling": True}),
    Labelled("portable computer for playing video games", PARA, LAP, {"type": "gaming"}),
    Labelled("café-quality Italian shots with foamy topping in my kitchen", PARA, CO,
             ESPRESSO_FROTHER, {"type": "espresso"}),
    Labelled("footwear for jogging on muddy mountain paths", PARA, SH, {"terrain": "trail"}),
    Labelled("wall-mounted telly for film evenings with inky shadows", PARA, TV,
             {"panel": "OLED"}, {"size_in": AtLeast(50)}),
    Labelled("somewhere comfy to sit that keeps my spine happy through nine-to-five shifts",
             PARA, CH, {"type": "ergonomic"}),
    Labelled("rucksack for overnight mountain expeditions", PARA, BP, {"type": "hiking"}),
    Labelled("a cell that survives falls at a construction job", PARA, PH, {"tier": "rugged"}),
    Labelled("tiny mobile for petite palms", PARA, PH, {"tier": "compact"}),
    Labelled("freshly made pot of joe waiting for me at sunrise", PARA, CO,
             {"type": "drip", "programmable": True}, {"type": "drip"}),
    Labelled("featherweight notebook computer to carry between airports", PARA, LAP,
             {"type": "ultrabook"}),
    Labelled("chilled steeped caffeine drink for summer", PARA, CO, {"type": "cold-brew"}),
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
        query_vector = await embedder.embed_query(labelled.query)
        for mode in scores:
            ranked = index.search(labelled.query, query_vector, Filters(), K, mode)
            scores[mode].append(ndcg_at_k([r.index for r in ranked], grades))
    return scores, embed_s, len(items)


MODES: tuple[SearchMode, ...] = ("keyword", "hybrid", "vector")


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
            + " ".join(
                f"{_mean([scores[m][n] for n in picked]):>7.3f}"
                for m in ("keyword", "hybrid", "vector")
            )
        )
    return lines


if __name__ == "__main__":
    for line in run():
        print(line)
