"""Thin graph nodes over the agents other modules implement: memory (helper A's
`memory_agent` behind `MemoryStore`), retrieval (the file passages the query's planning
retrieved), the shopping interview and the product search (helper B's `shopping_agent` and
`product_agent` behind `Interviewer` and `ProductFinder`)."""

from __future__ import annotations

from datetime import UTC, datetime

from langgraph.config import get_stream_writer

from llm_platform.agents.base_agent import (
    AgentFailed,
    MemoryEvent,
    NodeResult,
    OptionsEvent,
    ProductsEvent,
    TurnDeps,
)
from llm_platform.agents.state import Interview, MemoryChange, RecalledMemory, TurnState


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


async def memory(state: TurnState, deps: TurnDeps) -> NodeResult:
    store = deps.memory
    if store is None:
        raise AgentFailed("memory is not available")
    action = state["memory_action"] or "recall"
    user_id = state["user_id"]
    used: list[RecalledMemory] = []
    changes: list[MemoryChange] = []
    if action in ("recall", "recall_all"):
        # "What do you remember about me?": everything (newest first, within the budget).
        query = "" if action == "recall_all" else state["query"]
        used = list(await store.recall(user_id, query))
        summary = f"recalled {len(used)} " + ("memory" if len(used) == 1 else "memories")
    elif action == "remember":
        changes = list(
            await store.remember(
                user_id=user_id,
                user_text=state["query"],
                session_id=state["session_id"],
                query_id=state["query_id"],
                when=datetime.now(UTC),
            )
        )
        summary = _changes_summary(changes)
    else:
        changes = list(await store.forget(user_id=user_id, what=state["query"]))
        summary = _changes_summary(changes)
    shown = [c for c in changes if c["action"] != "none"]
    if used or shown:
        get_stream_writer()(
            MemoryEvent(
                used=tuple((m["id"], m["text"]) for m in used),
                changes=tuple((c["action"], c["id"], c["text"]) for c in shown),
            )
        )
    return NodeResult(
        update={"memories": used, "memory_changes": changes},
        summary=summary,
        input_summary=f"{action}: {state['query']}",
    )


def _changes_summary(changes: list[MemoryChange]) -> str:
    counts: dict[str, int] = {}
    for change in changes:
        counts[change["action"]] = counts.get(change["action"], 0) + 1
    real = {k: v for k, v in counts.items() if k != "none"}
    if not real:
        return "nothing to change"
    return ", ".join(f"{k} {v}" for k, v in sorted(real.items()))


async def retrieval(state: TurnState, deps: TurnDeps) -> NodeResult:
    """The passages were retrieved while the query was planned (they are in the writer's
    prompt with their numbers, and their citations go out before its tokens)."""
    n = state["grounded_passages"]
    return NodeResult(update={}, summary=f"{_plural(n, 'passage')} from your files")


async def shopping(state: TurnState, deps: TurnDeps) -> NodeResult:
    interviewer = deps.interviewer
    if interviewer is None:
        raise AgentFailed("shopping is not available")
    previous = state.get("shopping")
    step = await interviewer.step(previous["criteria"] if previous else None, state["query"])
    interview = Interview(
        criteria=step.criteria,
        active=not step.ready and step.question is not None,
        ready=step.ready,
        question=step.question,
        options=list(step.options),
        field=step.field,
    )
    if interview["active"] and step.question is not None:
        get_stream_writer()(OptionsEvent(step.question, tuple(step.options), step.field))
        summary = f"asks {step.field or 'a question'}: {step.question}"
    else:
        summary = "criteria complete: searching products"
    return NodeResult(update={"shopping": interview}, summary=summary)


def after_shopping(state: TurnState) -> str:
    interview = state.get("shopping")
    return "product" if interview is not None and interview["ready"] else "writer"


async def product(state: TurnState, deps: TurnDeps) -> NodeResult:
    finder = deps.products
    if finder is None:
        raise AgentFailed("product search is not available")
    interview = state.get("shopping")
    criteria = interview["criteria"] if interview is not None and interview["ready"] else None
    cards = [dict(card) for card in await finder.find(state["query"], criteria, deps.product_limit)]
    if cards:
        get_stream_writer()(ProductsEvent(tuple(cards)))
    update: dict[str, object] = {"products": cards}
    if interview is not None and interview["ready"]:
        # The interview is done: the next shopping request starts a new one.
        update["shopping"] = None
    return NodeResult(update=update, summary=f"found {_plural(len(cards), 'product')}")
