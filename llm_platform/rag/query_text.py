"""Turning a question into keyword terms and document hints."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

_BOILERPLATE = [
    r"^\s*(?:please\s+)?(?:can|could|would)\s+you\s+(?:please\s+)?(?:tell|show|give|find)\s+(?:me\s+)?",
    r"^\s*(?:please\s+)?(?:tell|show|give|find)\s+me\s+",
    r"^\s*i\s+(?:want|would like|need)\s+to\s+know\s+",
    r"\b(?:according\s+to|based\s+on|using|from|in)\s+(?:the|my|our)\s+"
    r"(?:uploaded\s+)?(?:documents?|files?|reports?|filings?|sources?|context)\b,?",
    r"\b(?:answer|respond)\s+(?:briefly|concisely|in\s+one\s+sentence)\b\.?",
    r"\bwith\s+(?:a\s+)?citations?\b",
]
_BOILERPLATE_RE = [re.compile(p, re.IGNORECASE) for p in _BOILERPLATE]

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "please",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "tell",
        "show",
        "give",
        "find",
        "report",
        "reported",
        "reports",
        "document",
        "documents",
        "file",
        "files",
        "according",
        "based",
        "value",
        "figure",
        "number",
        "amount",
        "much",
        "many",
    ]
)

_WORD = re.compile(r"\b[QqHh][1-4]\b|[A-Za-z]+|\d+(?:[.,]\d+)*")


def strip_boilerplate(query: str) -> str:
    text = query
    for pattern in _BOILERPLATE_RE:
        text = pattern.sub(" ", text)
    return " ".join(text.split()) or query


def words(text: str) -> list[str]:
    """Lower-case words with letters and digits split (FY2023 -> fy, 2023)."""
    return [w.lower() for w in _WORD.findall(text)]


def keyword_terms(query: str) -> list[str]:
    out: list[str] = []
    for w in words(query):
        if w not in STOPWORDS and (len(w) > 1 or w.isdigit()) and w not in out:
            out.append(w)
    return out


def focus_documents(
    query: str, documents: Iterable[tuple[str, str]], *, min_share: float = 0.999
) -> list[str]:
    """Ids of the documents whose title/name the question names best.

    `documents` are (id, "title file-name"). Each shared word counts its inverse document
    frequency, so the issuer's name and the period weigh more than words every title has.
    Returns [] when nothing is named (or every document matches equally)."""
    docs = [(doc_id, set(keyword_terms(label))) for doc_id, label in documents]
    if len(docs) < 2:
        return []
    q = set(keyword_terms(query))
    df: Counter[str] = Counter()
    for _, terms in docs:
        df.update(terms)
    n = len(docs)
    scores = {
        doc_id: sum(math.log(1 + n / df[t]) for t in (terms & q) if df[t] < n)
        for doc_id, terms in docs
    }
    best = max(scores.values())
    if best <= 0:
        return []
    chosen = [d for d, s in scores.items() if s >= best * min_share]
    return chosen if len(chosen) < n else []
