"""Ranking over an in-memory product catalog: a BM25F-style keyword scorer (title,
category, attributes and description weighted), cosine similarity over stored embeddings,
price and category filters, and reciprocal-rank fusion of the two rankings.

Pure and synchronous: `catalog.py` loads the rows and the vectors from the database into a
`CatalogIndex` once per catalog version; the benchmark builds one from a generated catalog.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

SearchMode = Literal["hybrid", "keyword", "vector"]

# BM25 parameters and the weight of each field's terms in a product's bag of words.
K1 = 1.2
B = 0.75
FIELD_WEIGHTS = {"title": 3.0, "category": 2.0, "attributes": 1.5, "description": 1.0}
RRF_K = 60
# Each ranking hands its best `FUSION_DEPTH` products to the fusion.
FUSION_DEPTH = 100
# A vector match is within RELATIVE_SIMILARITY of the best one and above MIN_SIMILARITY
# (MiniLM: unrelated texts score around 0; a paraphrase's best match can be as low as 0.2).
MIN_SIMILARITY = 0.1
RELATIVE_SIMILARITY = 0.5

_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_STOP = """a an and are as at be by for from has have i in is it its me my of on or our so that
the their this to was we with you your want need looking some something any"""
STOPWORDS = frozenset(_STOP.split())


def stem(word: str) -> str:
    """A light suffix stripper (plurals, -ing, -ed): "headphones" and "headphone" meet."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    return [stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """One product as the index holds it (the card's fields and its attributes)."""

    id: str
    title: str
    description: str
    category: str
    price: float
    currency: str = "USD"
    url: str | None = None
    image_url: str | None = None
    rating: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    source: str = "local"


def attribute_text(attributes: dict[str, Any]) -> str:
    parts = []
    for key, value in attributes.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        if isinstance(value, bool):
            shown = key.replace("_", " ") if value else ""
            parts.append(shown)
            continue
        parts.append(f"{key.replace('_', ' ')} {shown}")
    return ". ".join(p for p in parts if p)


def embedding_text(item: CatalogItem) -> str:
    """What a product's vector is computed from (import and index use the same text)."""
    attrs = attribute_text(item.attributes)
    return f"{item.title}. {item.category}. {item.description} {attrs}".strip()


@dataclass(frozen=True, slots=True)
class Filters:
    min_price: float | None = None
    max_price: float | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Ranked:
    index: int  # position in the catalog
    score: float
    matched_by: tuple[str, ...]


class CatalogIndex:
    """Keyword postings and a vector matrix over one version of the catalog."""

    def __init__(
        self, items: Sequence[CatalogItem], vectors: NDArray[np.float32] | None = None
    ) -> None:
        """`vectors`: one L2-normalised row per item (a zero row: no vector), or None."""
        self.items = list(items)
        self.vectors = vectors
        self._by_id = {item.id: i for i, item in enumerate(self.items)}
        self._postings: dict[str, list[tuple[int, float]]] = {}
        lengths = []
        for i, item in enumerate(self.items):
            bag: dict[str, float] = {}
            fields = {
                "title": item.title,
                "category": item.category.replace("-", " "),
                "attributes": attribute_text(item.attributes),
                "description": item.description,
            }
            for name, text in fields.items():
                for term in tokens(text):
                    bag[term] = bag.get(term, 0.0) + FIELD_WEIGHTS[name]
            lengths.append(sum(bag.values()))
            for term, tf in bag.items():
                self._postings.setdefault(term, []).append((i, tf))
        self._lengths = np.asarray(lengths, dtype=np.float64)
        self._avg_length = float(self._lengths.mean()) if lengths else 1.0
        self._prices = np.asarray([item.price for item in self.items], dtype=np.float64)
        self._categories = np.asarray([item.category.lower() for item in self.items])

    def __len__(self) -> int:
        return len(self.items)

    def get(self, product_id: str) -> CatalogItem | None:
        i = self._by_id.get(product_id)
        return None if i is None else self.items[i]

    @property
    def categories(self) -> list[str]:
        return sorted({item.category for item in self.items})

    def mask(self, filters: Filters) -> NDArray[np.bool_]:
        keep = np.ones(len(self.items), dtype=bool)
        if filters.min_price is not None:
            keep &= self._prices >= filters.min_price
        if filters.max_price is not None:
            keep &= self._prices <= filters.max_price
        if filters.category:
            keep &= self._categories == filters.category.strip().lower()
        return keep

    def _idf(self, term: str) -> float:
        n = len(self.items)
        df = len(self._postings.get(term, ()))
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def keyword(self, query: str, keep: NDArray[np.bool_]) -> list[tuple[int, float]]:
        """BM25 scores of the products that share a term with the query, best first."""
        scores: dict[int, float] = {}
        for term in set(tokens(query)):
            postings = self._postings.get(term)
            if not postings:
                continue
            idf = self._idf(term)
            for i, tf in postings:
                if not keep[i]:
                    continue
                norm = K1 * (1 - B + B * self._lengths[i] / self._avg_length)
                scores[i] = scores.get(i, 0.0) + idf * tf * (K1 + 1) / (tf + norm)
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))

    def coverage(self, query: str, best: int) -> float:
        """How much of the query (idf-weighted) the best keyword match contains: 1 when
        it has every word, near 0 when it shares one common word with a paraphrase."""
        terms = set(tokens(query))
        if not terms:
            return 0.0
        item = self.items[best]
        have = set(tokens(f"{item.title} {item.category.replace('-', ' ')} {item.description} "
                          f"{attribute_text(item.attributes)}"))  # fmt: skip
        total = sum(self._idf(t) for t in terms)
        return sum(self._idf(t) for t in terms if t in have) / total if total else 0.0

    def vector(
        self, query_vector: NDArray[np.float32], keep: NDArray[np.bool_]
    ) -> list[tuple[int, float]]:
        """Cosine similarity of the products with a vector, best first (above the floor)."""
        if self.vectors is None or not len(self.items):
            return []
        sims = self.vectors @ query_vector.reshape(-1).astype(np.float32)
        if not keep.any():
            return []
        floor = max(MIN_SIMILARITY, float(sims[keep].max()) * RELATIVE_SIMILARITY)
        candidates = np.flatnonzero(keep & (sims >= floor))
        order = candidates[np.argsort(-sims[candidates], kind="stable")]
        return [(int(i), float(sims[i])) for i in order]

    def browse(self, keep: NDArray[np.bool_]) -> list[Ranked]:
        """No query: the filtered products, best rated first, then cheapest."""
        picked = [i for i in range(len(self.items)) if keep[i]]
        picked.sort(key=lambda i: (-(self.items[i].rating or 0.0), self.items[i].price, i))
        return [Ranked(i, 0.0, ()) for i in picked]

    def search(
        self,
        query: str,
        query_vector: NDArray[np.float32] | None,
        filters: Filters,
        limit: int,
        mode: SearchMode = "hybrid",
    ) -> list[Ranked]:
        keep = self.mask(filters)
        if not query.strip():
            return self.browse(keep)[:limit]
        rankings: dict[str, list[tuple[int, float]]] = {}
        weights: dict[str, float] = {}
        if mode in ("hybrid", "keyword"):
            rankings["keyword"] = self.keyword(query, keep)[:FUSION_DEPTH]
            weights["keyword"] = 1.0
        if mode in ("hybrid", "vector") and query_vector is not None:
            rankings["vector"] = self.vector(query_vector, keep)[:FUSION_DEPTH]
            weights["vector"] = 1.0
            if rankings.get("keyword"):
                # A keyword ranking that matched a sliver of the query (a paraphrase sharing
                # one common word) counts for that much in the fusion.
                weights["keyword"] = self.coverage(query, rankings["keyword"][0][0])
        return fuse(rankings, weights)[:limit]


def fuse(
    rankings: dict[str, list[tuple[int, float]]],
    weights: dict[str, float] | None = None,
    k: int = RRF_K,
) -> list[Ranked]:
    """Reciprocal-rank fusion: each ranking adds weight / (k + rank) to a product's score."""
    scores: dict[int, float] = {}
    seen: dict[int, list[str]] = {}
    for name, ranking in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, (i, _score) in enumerate(ranking, start=1):
            scores[i] = scores.get(i, 0.0) + weight / (k + rank)
            seen.setdefault(i, []).append(name)
    order = sorted(scores, key=lambda i: (-scores[i], i))
    return [Ranked(i, scores[i], tuple(seen[i])) for i in order]
