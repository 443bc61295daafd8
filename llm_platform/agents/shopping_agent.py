"""The shopping interview: use case -> budget -> must-haves, then ready to search.

Each turn reads the user's answer by rules first (option labels, amounts of money, "no
limit", category words) and asks the model (`structured()`, constrained JSON) only for a
free-text answer the rules cannot read. Every question comes with option labels the UI
shows as buttons (a clicked label comes back as the next message). Pure logic: the graph
keeps `ShoppingCriteria` in its state between turns.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from llm_platform.agents import shopping_rules as rules
from llm_platform.agents.llm import LlmRef
from llm_platform.core.logging import get_logger
from llm_platform.providers.base import ChatMessage
from llm_platform.providers.errors import ProviderError
from llm_platform.providers.structured import structured
from llm_platform.rag.products.catalog import CatalogFacts

log = get_logger("llm_platform.agents.shopping")

Step = Literal["use_case", "budget_max", "must_haves"]
STEPS: tuple[Step, ...] = ("use_case", "budget_max", "must_haves")
DEFAULT_CATEGORIES = tuple(rules.CATEGORY_WORDS)


class ShoppingCriteria(BaseModel):
    use_case: str | None = None
    budget_max: float | None = None
    must_haves: list[str] = Field(default_factory=list)
    category: str | None = None
    done: bool = False
    # The interview's own bookkeeping: the question last asked, and the steps answered
    # (a budget of "no limit" or "no preference" answers its step without a value).
    asked: Step | None = None
    answered: list[Step] = Field(default_factory=list)


class InterviewStep(BaseModel):
    criteria: ShoppingCriteria
    question: str | None
    options: list[str]
    field: str | None
    ready: bool


class ShoppingExtraction(BaseModel):
    """What the model reads out of a free-text answer (null: not said)."""

    category: str | None = Field(default=None, description="One of the listed categories")
    use_case: str | None = Field(default=None, description="What the item is for, briefly")
    budget_max: float | None = Field(default=None, description="Most they will spend")
    no_budget: bool = Field(default=False, description="They said price does not matter")
    must_haves: list[str] = Field(default_factory=list, description="Required features")
    no_preference: bool = Field(default=False, description="They want no particular feature")


EXTRACTION_PROMPT = (
    "You read one answer of a shopper being interviewed about a purchase. Extract only what "
    "the shopper says; use null or empty values for anything not said. Categories: {categories}."
)


def _mark(criteria: ShoppingCriteria, step: Step) -> None:
    if step not in criteria.answered:
        criteria.answered.append(step)


def _add_must_haves(criteria: ShoppingCriteria, items: list[str]) -> None:
    for item in items:
        if item and item.lower() not in (m.lower() for m in criteria.must_haves):
            criteria.must_haves.append(item[:80])


def _apply_rules(criteria: ShoppingCriteria, text: str, categories: list[str]) -> bool:
    """Read the answer by rules; True when the pending question got its answer."""
    pending = criteria.asked
    category_by_label = {rules.category_label(c).lower(): c for c in categories}
    if text.strip().lower() in category_by_label:  # a clicked category button
        criteria.category = category_by_label[text.strip().lower()]
        return True  # read; the use case is still to ask, now for that category
    if criteria.category is None:
        criteria.category = rules.find_category(text, categories)
    # Money and "no limit" are read in any answer.
    if rules.is_no_budget(text) and pending == "budget_max":
        _mark(criteria, "budget_max")
    amount = rules.parse_budget(text, expecting=pending == "budget_max")
    if amount is not None:
        criteria.budget_max = amount
        _mark(criteria, "budget_max")
    if criteria.use_case is None:
        picked = rules.match_options(text, rules.use_case_options(criteria.category))
        phrase = picked[0] if picked else rules.use_case_phrase(text)
        if phrase:
            criteria.use_case = phrase
            _mark(criteria, "use_case")
    if pending == "must_haves":
        if rules.says_none(text) or text.strip() == rules.NO_PREFERENCE:
            _mark(criteria, "must_haves")
            return True
        picked = rules.match_options(text, rules.must_have_options(criteria.category))
        picked = [p for p in picked if p != rules.NO_PREFERENCE]
        if picked:
            _add_must_haves(criteria, picked)
            _mark(criteria, "must_haves")
        elif len(text.split()) <= 8:  # a short list of features in the user's words
            _add_must_haves(criteria, rules.split_list(text))
            _mark(criteria, "must_haves")
    return pending is not None and pending in criteria.answered


async def _extract(
    llm: LlmRef, question: str | None, text: str, categories: list[str]
) -> ShoppingExtraction | None:
    messages = []
    if question:
        messages.append(ChatMessage(role="assistant", content=question))
    messages.append(ChatMessage(role="user", content=text))
    try:
        result = await structured(
            llm.provider,
            llm.model,
            messages,
            ShoppingExtraction,
            system=EXTRACTION_PROMPT.format(categories=", ".join(categories)),
        )
    except ProviderError as exc:  # includes StructuredOutputError: ask again instead
        log.warning("shopping_extraction_failed", error=str(exc))
        return None
    return result.value


def _apply_extraction(
    criteria: ShoppingCriteria, found: ShoppingExtraction, categories: list[str]
) -> None:
    if criteria.category is None and found.category:
        wanted = found.category.strip().lower()
        criteria.category = next((c for c in categories if c.lower() == wanted), None)
    if criteria.use_case is None and found.use_case:
        criteria.use_case = found.use_case.strip()[:200]
        _mark(criteria, "use_case")
    if found.budget_max is not None and found.budget_max > 0:
        criteria.budget_max = float(found.budget_max)
        _mark(criteria, "budget_max")
    elif found.no_budget and criteria.asked == "budget_max":
        _mark(criteria, "budget_max")
    if found.must_haves:
        _add_must_haves(criteria, found.must_haves)
        if criteria.asked == "must_haves":
            _mark(criteria, "must_haves")
    elif found.no_preference and criteria.asked == "must_haves":
        _mark(criteria, "must_haves")


def _question(
    criteria: ShoppingCriteria, step: Step, facts: CatalogFacts | None, categories: list[str]
) -> tuple[str, list[str]]:
    noun = rules.category_label(criteria.category).lower() if criteria.category else None
    if step == "use_case":
        if criteria.category is None:
            return "What are you shopping for?", [rules.category_label(c) for c in categories]
        return (
            f"What will you mainly use the {noun} for?",
            rules.use_case_options(criteria.category),
        )
    if step == "budget_max":
        quartiles = (
            facts.price_quartiles.get(criteria.category)
            if facts is not None and criteria.category
            else None
        )
        where = f" for the {noun}" if noun else ""
        return f"What's your budget{where}?", rules.budget_options(criteria.category, quartiles)
    return "Any must-have features?", rules.must_have_options(criteria.category)


def _next_step(criteria: ShoppingCriteria) -> Step | None:
    for step in STEPS:
        if step not in criteria.answered:
            return step
    return None


async def interview_step(
    criteria: ShoppingCriteria,
    user_text: str,
    llm: LlmRef | None,
    *,
    catalog: CatalogFacts | None = None,
) -> InterviewStep:
    """Read the user's answer into the criteria, then ask the next question (with option
    labels) or say the interview is done (`ready`). `catalog`: the categories and prices
    the options come from (default: the demo catalog's categories and brackets)."""
    criteria = criteria.model_copy(deep=True)
    categories = list(catalog.categories if catalog and catalog.categories else DEFAULT_CATEGORIES)
    text = user_text.strip()[:2000]
    if text:
        understood = _apply_rules(criteria, text, categories)
        unread = criteria.asked is not None and not understood
        first_turn_vague = criteria.asked is None and criteria.category is None
        if llm is not None and (unread or first_turn_vague):
            asked = criteria.asked
            question = _question(criteria, asked, catalog, categories)[0] if asked else None
            found = await _extract(llm, question, text, categories)
            if found is not None:
                _apply_extraction(criteria, found, categories)
        labels = {rules.category_label(c).lower() for c in categories}
        no_model = llm is None and criteria.asked == "use_case" and criteria.use_case is None
        if no_model and text.lower() not in labels:
            criteria.use_case = text[:200]  # no model to read it: the free text is the use case
    if criteria.use_case is not None:
        _mark(criteria, "use_case")
    step = _next_step(criteria)
    if step is None:
        criteria.done = True
        criteria.asked = None
        return InterviewStep(criteria=criteria, question=None, options=[], field=None, ready=True)
    question, options = _question(criteria, step, catalog, categories)
    criteria.asked = step
    criteria.done = False
    return InterviewStep(
        criteria=criteria, question=question, options=options, field=step, ready=False
    )
