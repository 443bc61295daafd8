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
# Terms that must stay whole: fiscal periods (FY2023, FY 2023, fiscal year 2023, FY23, Q2
# 2024), form names (10-K, 8-K, S-1), figures with separators (1,234.5, 4.2%, $30).
_TOKEN = re.compile(
    r"(?P<fy>\b(?:fy|fiscal(?:\s+year)?)\s?'?(?P<fyn>(?:19|20)\d{2}|\d{2})\b)"
    r"|(?P<qtr>\b[qh][1-4]\b)"
    r"|(?P<form>\b(?:\d{1,2}-[a-z]|[a-z]-\d{1,2}[a-z]?)\b)"
    r"|(?P<num>\d[\d,]*(?:\.\d+)?%?)"
    r"|(?P<word>[a-z][a-z'&.]*[a-z]|[a-z])",
    re.IGNORECASE,
)


def strip_boilerplate(query: str) -> str:
    text = query
    for pattern in _BOILERPLATE_RE:
        text = pattern.sub(" ", text)
    return " ".join(text.split()) or query


def words(text: str) -> list[str]:
    """Lower-case words with letters and digits split (FY2023 -> fy, 2023)."""
    return [w.lower() for w in _WORD.findall(text)]


def keyword_terms(query: str) -> list[str]:
    """The question's search terms, stop words dropped; periods, form names and figures
    kept whole (a term with inner punctuation or a space is matched as a phrase).

    FY2023, FY 2023, FY23 and "fiscal (year) 2023" all give 'fy2023', the phrase
    'fy 2023' and the year '2023', so any way a document writes the period matches."""
    out: list[str] = []

    def add(term: str) -> None:
        if term and term not in out:
            out.append(term)

    for m in _TOKEN.finditer(query):
        if m.group("fy"):
            year = m.group("fyn")
            full = year if len(year) == 4 else f"20{year}"
            add(f"fy{full}")
            add(f"fy {full}")
            if len(year) == 2:
                add(f"fy{year}")
            add(full)
        elif m.group("qtr"):
            add(m.group("qtr").lower())
        elif m.group("form"):
            add(m.group("form").lower())
        elif m.group("num"):
            num = m.group("num").rstrip(",.")
            add(num)
            bare = num.rstrip("%").replace(",", "")
            if bare != num and bare:
                add(bare)
        else:
            word = m.group("word").lower()
            parts = [word] if "&" in word else re.split(r"['.]", word)
            for part in parts:
                if len(part) > 1 and part not in STOPWORDS:
                    add(part)
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
