"""The coordinator: route the turn (the intent router, or a fallback from the attachments)
and pick the agents it needs. Independent agents run in parallel; the product search follows
the shopping interview once it is ready; the writer always answers last."""

from __future__ import annotations

from typing import Any

from llm_platform.agents.base_agent import NodeResult, TurnDeps
from llm_platform.agents.state import TurnState

# Intents (helper C's `Intent` values).
CHAT = "chat"
DOCUMENT = "document"
MEMORY_REMEMBER = "memory_remember"
MEMORY_RECALL = "memory_recall"
MEMORY_FORGET = "memory_forget"
SHOPPING = "shopping"
PRODUCT = "product"
IMAGE = "image"

_MEMORY_ACTIONS = {
    MEMORY_REMEMBER: "remember",
    MEMORY_RECALL: "recall_all",
    MEMORY_FORGET: "forget",
}


def fallback_intent(*, has_images: bool, has_files: bool) -> str:
    """No router configured: images and files decide, everything else is chat."""
    if has_images:
        return IMAGE
    if has_files:
        return DOCUMENT
    return CHAT


# Intents that end an open interview question (the user clearly moved on).
_MOVED_ON = frozenset({DOCUMENT, IMAGE, PRODUCT, MEMORY_RECALL, MEMORY_FORGET})


def answers_interview(intent: str, state: TurnState) -> bool:
    """Whether the message answers the shopping interview's open question: one of the
    options it offered (a button), or anything but a clear change of subject."""
    interview = state.get("shopping")
    if interview is None or not interview["active"]:
        return False
    text = state["query"].strip().casefold()
    if any(text == option.casefold() for option in interview["options"]):
        return True
    return intent not in _MOVED_ON


def choose_agents(
    intent: str, state: TurnState, deps: TurnDeps, *, has_memories: bool = True
) -> tuple[list[str], str | None]:
    """The agents for this turn (in the order they are listed on the stream) and the memory
    agent's action (no recall for a user with nothing remembered)."""
    agents: list[str] = []
    memory_action: str | None = None
    memory_on = deps.memory is not None and state["memory_enabled"]
    if memory_on and (has_memories or intent in _MEMORY_ACTIONS):
        memory_action = _MEMORY_ACTIONS.get(intent, "recall")
        agents.append("memory")
    if state["grounded_passages"]:
        agents.append("retrieval")
    if deps.images and (intent == IMAGE or state["has_images"]):
        agents.append("vision")
    interview = state.get("shopping")
    # An open interview question is answered by the next message, whatever it looks like
    # ("gaming", "under 800"), unless the user clearly moved on to something else.
    continuing = interview is not None and interview["active"] and intent in (CHAT, SHOPPING)
    if deps.interviewer is not None and (intent == SHOPPING or continuing):
        agents.append("shopping")
    elif deps.products is not None and intent == PRODUCT:
        agents.append("product")
    return agents, memory_action


async def coordinate(state: TurnState, deps: TurnDeps) -> NodeResult:
    if deps.router is not None:
        decision = await deps.router.route(
            state["query"], has_images=state["has_images"], has_files=state["has_files"]
        )
        intent, confidence, decided_by = (
            str(decision.intent),
            decision.confidence,
            str(decision.decided_by),
        )
        routing: dict[str, Any] | None = decision.model_dump(mode="json")
    else:
        intent = fallback_intent(has_images=state["has_images"], has_files=state["has_files"])
        confidence, decided_by = 1.0, "default"
        routing = None
    if answers_interview(intent, state):
        intent = SHOPPING  # a click on an option, or a free answer to the open question
    has_memories = True
    if deps.memory is not None and state["memory_enabled"] and intent not in _MEMORY_ACTIONS:
        has_memories = await deps.memory.has_any(state["user_id"])
    agents, memory_action = choose_agents(intent, state, deps, has_memories=has_memories)
    called = ", ".join(agents) if agents else "writer only"
    return NodeResult(
        update={
            "intent": intent,
            "confidence": confidence,
            "decided_by": decided_by,
            "routing": routing,
            "agents": agents,
            "memory_action": memory_action,
        },
        summary=f"{intent} ({decided_by}, {confidence:.2f}) → {called}",
    )


def after_coordinator(state: TurnState) -> list[str]:
    """The coordinator's edges: the chosen agents in parallel, or straight to the writer."""
    return list(state["agents"]) or ["writer"]
