"""The agents' ports over the platform's real parts: the product catalog and the shopping
interview (`agents.product_agent`, `agents.shopping_agent` on `rag.products.ProductSearch`).
The intent router (`agents.intent.IntentRouter`) satisfies `agents.ports.Router` as it is.
The memory store (helper A's `agents.memory_agent`) plugs in here too once merged."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llm_platform.agents.llm import LlmRef
from llm_platform.agents.ports import InterviewStep
from llm_platform.agents.product_agent import find_products
from llm_platform.agents.shopping_agent import ShoppingCriteria, interview_step
from llm_platform.rag.products import ProductSearch


def _criteria(data: Mapping[str, Any] | None) -> ShoppingCriteria:
    return ShoppingCriteria.model_validate(dict(data)) if data else ShoppingCriteria()


@dataclass(frozen=True)
class CatalogFinder:
    """`ProductFinder`: the catalog search with the interview's criteria (budget, category,
    use case, must-haves) and the user's words."""

    search: ProductSearch

    async def find(
        self, query: str, criteria: Mapping[str, Any] | None, limit: int
    ) -> Sequence[Mapping[str, Any]]:
        cards = await find_products(self.search, _criteria(criteria), query, limit)
        return [card.model_dump() for card in cards]


@dataclass(frozen=True)
class ShoppingInterviewer:
    """`Interviewer`: one step of the shopping interview, its options from the catalog's
    categories and prices; the model reads free-text answers the rules do not."""

    search: ProductSearch
    llm: LlmRef | None

    async def step(self, criteria: Mapping[str, Any] | None, user_text: str) -> InterviewStep:
        facts = await self.search.facts()
        step = await interview_step(
            _criteria(criteria), user_text, self.llm, catalog=facts if facts.categories else None
        )
        return InterviewStep(
            criteria=step.criteria.model_dump(mode="json"),
            question=step.question,
            options=list(step.options),
            field=step.field,
            ready=step.ready,
        )
