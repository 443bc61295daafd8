"""The shopping interview: use case -> budget -> must-haves over several turns, answers
read by rules (option labels, "$300", "under 500", "no limit") and by the model only for
free text (scripted structured output), with options for every question."""

from __future__ import annotations

import pytest

from llm_platform.agents.llm import LlmRef
from llm_platform.agents.shopping_agent import ShoppingCriteria, interview_step
from llm_platform.agents.shopping_rules import find_category, parse_budget
from llm_platform.providers.scripted import ScriptedProvider, text_events
from llm_platform.rag.products import CatalogFacts


@pytest.mark.parametrize(
    ("text", "expecting", "amount"),
    [
        ("$300", False, 300.0),
        ("under 500", False, 500.0),
        ("no more than 1,200 dollars", False, 1200.0),
        ("between 200 and 400", False, 400.0),
        ("1.5k tops", False, 1500.0),
        ("€80", False, 80.0),
        ("150", True, 150.0),
        ("150", False, None),
        ("a 65 inch 4K TV", False, None),
        ("65 inch TV under $900", False, 900.0),
        ("512 GB phone", True, None),
        ("something cheap", True, None),
        ("tell me about 4K TVs", False, None),
        ("what about the iPhone 15?", False, None),
        ("under 2k", False, 2000.0),
        ("a coffee maker for 4 people, under $100", False, 100.0),
    ],
)
def test_parse_budget(text: str, expecting: bool, amount: float | None) -> None:
    assert parse_budget(text, expecting=expecting) == amount


def test_find_category() -> None:
    cats = ["laptops", "headphones", "smartphones", "running-shoes", "televisions"]
    assert find_category("I need new earbuds", cats) == "headphones"
    assert find_category("a phone for my mum", cats) == "smartphones"
    assert find_category("running shoes please", cats) == "running-shoes"
    assert find_category("a laptop or a phone", cats) is None
    assert find_category("a gift", cats) is None


async def test_interview_over_turns_by_rules() -> None:
    facts = CatalogFacts(
        categories=["headphones", "laptops"],
        price_quartiles={"headphones": (60.0, 140.0, 230.0), "laptops": (600, 900, 1400)},
    )
    step = await interview_step(
        ShoppingCriteria(), "I'd like to buy headphones", None, catalog=facts
    )
    assert not step.ready and step.field == "use_case"
    assert step.criteria.category == "headphones"
    assert step.question == "What will you mainly use the headphones for?"
    assert "Commuting and travel" in step.options

    step = await interview_step(step.criteria, "Commuting and travel", None, catalog=facts)
    assert step.criteria.use_case == "Commuting and travel"
    assert step.field == "budget_max" and step.question == "What's your budget for the headphones?"
    assert step.options == ["Under $60", "Under $150", "Under $250", "No limit"]

    step = await interview_step(step.criteria, "Under $150", None, catalog=facts)
    assert step.criteria.budget_max == 150.0
    assert step.field == "must_haves" and "Noise cancelling" in step.options
    assert step.options[-1] == "No preference"

    step = await interview_step(
        step.criteria, "noise cancelling and a microphone", None, catalog=facts
    )
    assert step.ready and step.question is None and step.field is None and step.options == []
    criteria = step.criteria
    assert criteria.done and criteria.must_haves == ["Noise cancelling", "Microphone"]
    # The criteria survive a round trip through the graph's state (JSON).
    assert ShoppingCriteria.model_validate_json(criteria.model_dump_json()) == criteria


async def test_everything_in_one_message_skips_to_must_haves() -> None:
    step = await interview_step(
        ShoppingCriteria(), "a laptop for video editing, under $1,500", None
    )
    c = step.criteria
    assert (c.category, c.use_case, c.budget_max) == ("laptops", "video editing", 1500.0)
    assert step.field == "must_haves"
    step = await interview_step(c, "No preference", None)
    assert step.ready and step.criteria.must_haves == []


async def test_no_limit_and_unknown_category() -> None:
    step = await interview_step(ShoppingCriteria(), "hi", None)
    assert step.field == "use_case" and step.question == "What are you shopping for?"
    assert "Running shoes" in step.options and "Televisions" in step.options
    provider = ScriptedProvider()  # a clicked label needs no model
    step = await interview_step(step.criteria, "Televisions", LlmRef(provider, "plain"))
    assert provider.calls == []
    assert step.criteria.category == "televisions" and step.field == "use_case"
    assert "Movies" in step.options
    step = await interview_step(step.criteria, "Movies", None)
    step = await interview_step(step.criteria, "No limit", None)
    assert step.criteria.budget_max is None and step.field == "must_haves"


async def test_free_text_goes_to_the_model() -> None:
    provider = ScriptedProvider()
    llm = LlmRef(provider, "plain")
    step = await interview_step(ShoppingCriteria(), "I need headphones", llm)
    assert provider.calls == []  # the rules read it
    step = await interview_step(step.criteria, "Commuting and travel", llm)
    assert step.field == "budget_max" and provider.calls == []

    provider.queue(text_events('{"budget_max": 200, "no_budget": false}'))
    step = await interview_step(step.criteria, "a couple of hundred at most, I'm a student", llm)
    assert step.criteria.budget_max == 200.0 and step.field == "must_haves"
    request = provider.calls[-1].request
    assert request.response_schema is not None and "budget_max" in str(request.response_schema)
    assert request.messages[0].content == "What's your budget for the headphones?"

    # Twice invalid output: the question is asked again, nothing invented.
    provider.queue(text_events("no idea"), text_events("still not json"))
    again = await interview_step(
        step.criteria,
        "I'd like it to survive my toddler throwing it across the room, honestly",
        llm,
    )
    assert again.field == "must_haves" and not again.ready
    assert again.criteria.must_haves == []
