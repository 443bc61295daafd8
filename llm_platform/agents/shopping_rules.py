"""The shopping interview's rules: the options it offers (categories, use cases, budget
brackets, must-have features) and the parsers that read answers without a model (amounts
of money, "no limit", option labels, category words)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from llm_platform.rag.products.ranking import tokens

NO_LIMIT = "No limit"
NO_PREFERENCE = "No preference"

# Words that name a category (the demo catalog's; other catalogs match their category names).
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "laptops": ("laptop", "notebook", "ultrabook", "chromebook", "macbook"),
    "headphones": ("headphone", "earbud", "earphone", "headset", "airpods"),
    "smartphones": ("smartphone", "phone", "mobile", "cellphone", "iphone", "android"),
    "running-shoes": ("running shoe", "runner", "sneaker", "trainer", "running"),
    "coffee-makers": ("coffee", "espresso", "coffee maker", "coffee machine", "latte"),
    "backpacks": ("backpack", "rucksack", "daypack", "knapsack"),
    "office-chairs": ("chair", "office chair", "desk chair"),
    "televisions": ("tv", "television", "oled", "qled", "telly"),
}

USE_CASES: dict[str, tuple[str, ...]] = {
    "laptops": ("Work and office", "Gaming", "School and studying", "Travel"),
    "headphones": ("Commuting and travel", "Working out", "Calls and meetings", "Home listening"),
    "smartphones": ("Photography", "Everyday basics", "Outdoors and work sites", "Small and light"),
    "running-shoes": ("Road running", "Trail running", "Marathon training", "Wet weather"),
    "coffee-makers": (
        "Espresso and lattes",
        "Coffee for the family",
        "Quick single cups",
        "Iced coffee",
    ),
    "backpacks": ("Commuting", "Travel", "Hiking", "School"),
    "office-chairs": ("Long hours at a desk", "Gaming", "Small home office", "Executive office"),
    "televisions": ("Movies", "Console gaming", "Sports", "Bright living room"),
}
GENERIC_USE_CASES = ("Everyday use", "Work", "A gift", "Hobby")

MUST_HAVES: dict[str, tuple[str, ...]] = {
    "laptops": ("Long battery life", "Lightweight", "Dedicated graphics", "Touchscreen"),
    "headphones": ("Noise cancelling", "Wireless", "Microphone", "Water resistant"),
    "smartphones": ("Great camera", "Big battery", "5G", "Water resistant"),
    "running-shoes": ("Max cushioning", "Waterproof", "Wide fit", "Lightweight"),
    "coffee-makers": ("Built-in grinder", "Milk frother", "Programmable timer"),
    "backpacks": ("Laptop sleeve", "Waterproof", "Hip belt", "Carry-on size"),
    "office-chairs": ("Lumbar support", "Adjustable armrests", "Headrest", "Mesh back"),
    "televisions": ("OLED", "120 Hz", "HDR", "65 inches or more"),
}
GENERIC_MUST_HAVES = ("Good reviews", "Durable", "Easy to use")

DEFAULT_BRACKETS: dict[str, tuple[float, ...]] = {
    "laptops": (500, 800, 1200, 2000),
    "headphones": (50, 100, 200, 300),
    "smartphones": (200, 400, 700, 1000),
    "running-shoes": (80, 120, 150, 200),
    "coffee-makers": (50, 100, 250, 500),
    "backpacks": (50, 80, 120, 150),
    "office-chairs": (100, 200, 300, 500),
    "televisions": (400, 800, 1500, 2500),
}
GENERIC_BRACKETS = (50, 100, 250, 500, 1000)

_NICE = (10, 15, 20, 25, 30, 40, 50, 60, 75, 80, 100, 120, 150, 200, 250, 300, 400, 500, 600,
         700, 800, 1000, 1200, 1500, 2000, 2500, 3000, 4000, 5000)  # fmt: skip


def category_label(category: str) -> str:
    return category.replace("-", " ").replace("_", " ").capitalize()


def nice_amount(value: float) -> float:
    """The round amount at or above a price (for budget brackets)."""
    for amount in _NICE:
        if amount >= value:
            return float(amount)
    return float(math.ceil(value / 1000) * 1000)


def budget_label(amount: float) -> str:
    return f"Under ${amount:,.0f}"


def budget_options(category: str | None, quartiles: tuple[float, float, float] | None) -> list[str]:
    if quartiles is not None:
        amounts = sorted({nice_amount(q) for q in quartiles})
    else:
        amounts = list(DEFAULT_BRACKETS.get(category or "", GENERIC_BRACKETS))
    return [budget_label(a) for a in amounts] + [NO_LIMIT]


def use_case_options(category: str | None) -> list[str]:
    return list(USE_CASES.get(category or "", GENERIC_USE_CASES))


def must_have_options(category: str | None) -> list[str]:
    return [*MUST_HAVES.get(category or "", GENERIC_MUST_HAVES), NO_PREFERENCE]


# ------------------------------------------------------------------------ parsing
def _norm(text: str) -> str:
    return " ".join(tokens(text))


def match_options(text: str, options: Sequence[str]) -> list[str]:
    """The options the text names: the whole label, or all of its words (stemmed)."""
    said = set(tokens(text))
    lowered = text.strip().lower()
    found = []
    for option in options:
        words = set(tokens(option))
        if lowered == option.lower() or (words and words <= said):
            found.append(option)
    return found


def find_category(text: str, categories: Sequence[str]) -> str | None:
    """The category the text names (its name or one of its words), if exactly one."""
    said = f" {_norm(text)} "
    hits = []
    for category in categories:
        words = (category.replace("-", " "), *CATEGORY_WORDS.get(category, ()))
        if any(f" {_norm(w)} " in said for w in words if _norm(w)):
            hits.append(category)
    # "running shoes" also says "running": prefer the longest (most specific) match
    return hits[0] if len(hits) == 1 else None


_NO_BUDGET = re.compile(
    r"\b(no (?:limit|budget|max(?:imum)?)|unlimited|doesn'?t matter|don'?t care|any price|"
    r"not sure|whatever|money is no object)\b",
    re.IGNORECASE,
)
_NONE = re.compile(
    r"^\s*(no|none|nope|nothing|nothing (?:special|else|in particular)|no preference|"
    r"not really|skip|doesn'?t matter|that'?s (?:it|all))\s*[.!]?\s*$",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"(?P<cur>[$€£])?\s*(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?P<k>\s*k\b)?"
    r"(?P<after>\s*[a-z\"']*)",
    re.IGNORECASE,
)
_CUE_BEFORE = re.compile(
    r"\b(under|below|less than|up to|upto|max(?:imum)?|at most|no more than|budget|between|"
    r"within|cheaper than|spend|afford)\b",
    re.IGNORECASE,
)
_NEAR_BEFORE = re.compile(r"\b(about|around|roughly|approximately)\s*[$€£]?\s*$", re.IGNORECASE)
_CUE_AFTER = re.compile(r"^\s*k?\s*(or less|tops|max|at most|budget)\b", re.IGNORECASE)
_CURRENCY_WORDS = {"dollar", "dollars", "bucks", "usd", "eur", "euro", "euros", "pounds", "gbp"}
# Words after a number that make it a size or a spec, not money ("65 inch", "4K TV").
_UNITS = """inch inches in gb tb mah mp hz l kg g mm " cups hours hrs w litres liters k p tv tvs
screen resolution display monitor video hdr oled qled uhd"""
_NOT_MONEY = frozenset(_UNITS.split())


def is_no_budget(text: str) -> bool:
    return bool(_NO_BUDGET.search(text))


def says_none(text: str) -> bool:
    return bool(_NONE.match(text))


def parse_budget(text: str, *, expecting: bool = False) -> float | None:
    """The most the user will spend, from "$300", "under 500", "1.2k", "200-400 euros"
    (the upper end); numbers that are sizes ("65 inch", "4K", "512 GB") are not money. A
    bare number counts only when the question was the budget (`expecting`)."""
    amounts = []
    for m in _MONEY.finditer(text):
        after = m.group("after").strip().lower().strip("'")
        if after in _NOT_MONEY and not m.group("cur"):
            continue
        money = bool(m.group("cur")) or after in _CURRENCY_WORDS
        # A cue ("under", "budget", "tops") just before or after the number.
        before = text[max(0, m.start() - 25) : m.start()]
        cue = _CUE_BEFORE.search(before) or _NEAR_BEFORE.search(before)
        cue = cue or _CUE_AFTER.search(text[m.start("after") : m.end() + 12])
        if not (money or expecting or cue):
            continue
        value = float(m.group("num").replace(",", ""))
        if m.group("k"):
            value *= 1000
        if 0 < value <= 1e8:
            amounts.append(value)
    return max(amounts) if amounts else None


_FOR = re.compile(r"\bfor\s+(?:my\s+|the\s+|a\s+)?(.{3,120}?)(?:[.,;!?]|$| under | below )", re.I)


def use_case_phrase(text: str) -> str | None:
    """ "headphones for my daily train commute" -> "daily train commute"."""
    m = _FOR.search(text)
    if m is None:
        return None
    phrase = m.group(1).strip()
    return None if parse_budget(phrase) is not None else phrase


def split_list(text: str) -> list[str]:
    """ "wireless, long battery and a mic" -> three items (short answers only)."""
    parts = re.split(r",|;|\band\b|\bplus\b|\bwith\b|\n", text, flags=re.IGNORECASE)
    items = [p.strip(" .!-").strip() for p in parts]
    return [i for i in items if i and len(i) <= 60][:8]
