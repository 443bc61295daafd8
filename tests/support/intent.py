"""Intent router helpers: a router on the packaged rules and examples with a scripted LLM."""

from __future__ import annotations

from llm_platform.agents.intent import IntentRouter
from llm_platform.agents.intent_rules import load_examples, load_keywords
from llm_platform.agents.llm import LlmRef
from llm_platform.providers.base import DoneEvent
from llm_platform.providers.scripted import Script, ScriptedProvider, text_events
from llm_platform.rag.embeddings import Embedder


def scripted_llm() -> LlmRef:
    return LlmRef(provider=ScriptedProvider(token_delay=0.0), model="echo")


def json_answer(text: str) -> Script:
    """One scripted model answer with this text (e.g. '{"intent": "shopping"}')."""
    return [*text_events(text), DoneEvent()]


def packaged_router(embedder: Embedder | None, llm: LlmRef | None = None) -> IntentRouter:
    return IntentRouter(load_keywords(None), load_examples(None), embedder, llm)
