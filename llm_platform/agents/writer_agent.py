"""The writer: composes the answer from the conversation (the planned model call: the
provider's or the arm's system prompt, the history, the arm's settings, the file passages
with their citations) plus what the agents found this turn — recalled memories, what the
memory agent changed, product results to cite, the text of images a model cannot see, the
shopping interview's next question. The tokens stream through the platform's generation
(`TurnDeps.write`, injected by the services layer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langgraph.config import get_stream_writer

from llm_platform.agents.base_agent import AgentFailed, NodeResult, TurnDeps
from llm_platform.agents.ports import WriterInput
from llm_platform.agents.state import ImageNote, MemoryChange, RecalledMemory, TurnState


def memories_block(memories: Sequence[RecalledMemory]) -> str:
    lines = "\n".join(f"- {m['text']}" for m in memories)
    return (
        "What you remember about the user from earlier conversations (use it when it "
        f"helps; do not list it unasked):\n{lines}"
    )


def changes_block(changes: Sequence[MemoryChange], action: str | None) -> str:
    shown = [c for c in changes if c["action"] != "none"]
    if not shown:
        if action == "forget":
            return "The user asked you to forget something; nothing matching was remembered."
        return "The user told you something; nothing new needed to be remembered."
    verbs = {"add": "Saved", "update": "Updated", "delete": "Deleted"}
    lines = "\n".join(f"- {verbs.get(c['action'], c['action'])}: {c['text']}" for c in shown)
    return f"Your memory of the user changed this turn (confirm it briefly):\n{lines}"


def products_block(products: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for i, card in enumerate(products, 1):
        price = card.get("price")
        cost = f" — {price:g} {card.get('currency') or ''}".rstrip() if price is not None else ""
        rating = f", rated {card['rating']:g}" if card.get("rating") is not None else ""
        lines.append(
            f"[P{i}] {card.get('title', 'Product')}{cost}{rating}. {card.get('url') or ''}"
        )
    return (
        "Products found for the user (shown to them as cards). Recommend from these only and "
        "cite each one you mention as [P1], [P2]...:\n" + "\n".join(lines)
    )


def images_block(notes: Sequence[ImageNote]) -> str | None:
    read = [n for n in notes if n["mode"] != "vision"]
    if not read:
        return None
    parts = []
    for n in read:
        label = n["name"] or "image"
        if n["mode"] == "ocr" and n["text"]:
            parts.append(f"--- text of {label} ---\n{n['text']}")
        else:
            parts.append(f"--- {label}: no text could be read ---")
    return (
        "The user attached images, but this model cannot see images. Their text was read "
        "by OCR (below). Say in your answer that you only read the image's text with OCR "
        "and did not see the image itself.\n" + "\n".join(parts)
    )


def question_block(state: TurnState) -> str | None:
    interview = state.get("shopping")
    if interview is None or not interview["active"] or not interview["question"]:
        return None
    options = ", ".join(interview["options"])
    hint = f" (the user can pick: {options})" if options else ""
    return (
        "You are helping the user choose a product. Ask them this next question, briefly "
        f"and without recommending anything yet: {interview['question']}{hint}"
    )


def writer_input(state: TurnState, deps: TurnDeps) -> WriterInput:
    blocks: list[str] = []
    if state["memories"]:
        prompt = deps.memory.prompt(state["memories"]) if deps.memory is not None else ""
        blocks.append(prompt or memories_block(state["memories"]))
    if state["memory_action"] in ("remember", "forget"):
        blocks.append(changes_block(state["memory_changes"], state["memory_action"]))
    if state["products"]:
        blocks.append(products_block(state["products"]))
    images = images_block(state["images"])
    if images is not None:
        blocks.append(images)
    question = question_block(state)
    if question is not None:
        blocks.append(question)
    keep_images = not any(n["mode"] != "vision" for n in state["images"])
    return WriterInput(system_blocks=blocks, keep_images=keep_images)


async def write(state: TurnState, deps: TurnDeps) -> NodeResult:
    request = writer_input(state, deps)
    out = await deps.write(request, get_stream_writer())
    if out.status == "error":
        raise AgentFailed(out.error or "the model failed")
    return NodeResult(
        update={"answer": out.text},
        summary=f"{out.status}: {len(out.text)} characters",
        input_summary=f"{len(request.system_blocks)} context block(s): {state['query']}",
        input_tokens=out.input_tokens,
        output_tokens=out.output_tokens,
        model=out.model,
    )
