"""The graph's typed state: what one turn carries between the agents, and what a conversation
keeps across turns (checkpointed per session: the shopping interview resumes after a restart).

Values are plain JSON-able data (the checkpointer serialises them). Per-turn keys are set
by every turn's input, so a value left from the previous turn never leaks into this one;
`shopping` is the only key that lives across turns.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

# The agents the coordinator can call (node names in the graph).
AgentName = Literal["memory", "retrieval", "shopping", "product", "vision"]
MemoryAction = Literal["recall", "remember", "forget", "recall_all"]


class RecalledMemory(TypedDict):
    id: str
    text: str
    score: float


class MemoryChange(TypedDict):
    action: str  # add | update | delete | none
    id: str | None
    text: str
    old_text: str | None


class Interview(TypedDict):
    """The shopping interview's state (kept across turns)."""

    criteria: dict[str, Any]  # the interviewer's criteria (helper B's ShoppingCriteria)
    active: bool  # a question is open: the next message answers it
    ready: bool  # enough is known to search
    question: str | None
    options: list[str]
    field: str | None


class ImageNote(TypedDict):
    name: str | None
    mode: Literal["vision", "ocr", "none"]
    text: str  # the OCR text ("" for vision or when OCR found nothing)


class TurnInput(TypedDict):
    """What a turn starts with (every per-turn key, reset each turn)."""

    query: str
    user_id: str
    session_id: str | None
    query_id: str
    has_images: bool
    has_files: bool
    memory_enabled: bool
    grounded_passages: int  # sources the retrieval (done while planning) put in the prompt
    intent: str | None
    confidence: float | None
    decided_by: str | None
    routing: dict[str, Any] | None  # the router's whole decision (stages, scores, times)
    agents: list[str]
    memory_action: str | None
    memories: list[RecalledMemory]
    memory_changes: list[MemoryChange]
    products: list[dict[str, Any]]
    images: list[ImageNote]
    answer: str | None


class TurnState(TurnInput, total=False):
    """The whole state: the turn's keys plus the conversation's."""

    shopping: Interview | None


def turn_input(
    *,
    query: str,
    user_id: str,
    session_id: str | None,
    query_id: str,
    has_images: bool = False,
    has_files: bool = False,
    memory_enabled: bool = False,
    grounded_passages: int = 0,
) -> TurnInput:
    return TurnInput(
        query=query,
        user_id=user_id,
        session_id=session_id,
        query_id=query_id,
        has_images=has_images,
        has_files=has_files,
        memory_enabled=memory_enabled,
        grounded_passages=grounded_passages,
        intent=None,
        confidence=None,
        decided_by=None,
        routing=None,
        agents=[],
        memory_action=None,
        memories=[],
        memory_changes=[],
        products=[],
        images=[],
        answer=None,
    )
