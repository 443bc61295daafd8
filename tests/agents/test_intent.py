"""The intent router's stages: rules, embedding similarity (the real local MiniLM), and the
LLM classifier (scripted) only when both are unsure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from llm_platform.agents.intent import Intent, IntentRouter
from llm_platform.agents.intent_rules import IntentConfigError, load_examples, load_keywords
from llm_platform.core.config import Settings
from llm_platform.providers.scripted import Hang, ScriptedProvider
from tests.support.intent import json_answer, packaged_router, scripted_llm

if TYPE_CHECKING:
    from llm_platform.rag.embeddings import LocalEmbedder

# Neither the rules nor the examples are sure of these (checked in the tests below).
UNSURE = "hmm, what about the other one"


def calls(router: IntentRouter) -> int:
    assert router.llm is not None and isinstance(router.llm.provider, ScriptedProvider)
    return len(router.llm.provider.calls)


def queue(router: IntentRouter, *answers: str) -> None:
    assert router.llm is not None and isinstance(router.llm.provider, ScriptedProvider)
    router.llm.provider.queue(*(json_answer(a) for a in answers))


async def test_rules_decide_a_clear_message_without_the_other_stages(
    embedder: LocalEmbedder,
) -> None:
    router = packaged_router(embedder, scripted_llm())
    cases = {
        "Remember that my favourite colour is teal": Intent.MEMORY_REMEMBER,
        "what do you remember about me?": Intent.MEMORY_RECALL,
        "please forget my home address": Intent.MEMORY_FORGET,
        "I want to buy a new fridge": Intent.SHOPPING,
        "how much is the iPhone 15 Pro": Intent.PRODUCT,
        "I remember when we had no internet at home": Intent.CHAT,
        "don't forget that I am left-handed": Intent.MEMORY_REMEMBER,
    }
    for text, intent in cases.items():
        decision = await router.route(text, has_images=False, has_files=False)
        assert (decision.intent, decision.decided_by) == (intent, "rules"), text
        assert [s.stage for s in decision.stages] == ["rules"]
        assert decision.stages[0].sure and decision.stages[0].score >= 2
        assert decision.confidence > 0.5 and decision.total_ms >= decision.stages[0].ms
    assert calls(router) == 0


async def test_embedding_decides_when_the_rules_are_unsure(embedder: LocalEmbedder) -> None:
    router = packaged_router(embedder, scripted_llm())
    cases = {
        "explain why the ocean is salty": Intent.CHAT,
        "what have you stored on me": Intent.MEMORY_RECALL,
    }
    for text, intent in cases.items():
        decision = await router.route(text, has_images=False, has_files=False)
        assert decision.decided_by == "embedding", (text, decision)
        assert decision.intent == intent
        rules, embedding = decision.stages
        assert not rules.sure and embedding.sure and embedding.stage == "embedding"
        assert embedding.intent == intent and 0 < embedding.score <= 1 and embedding.ms > 0
    assert calls(router) == 0


async def test_llm_only_when_rules_and_embedding_are_unsure(embedder: LocalEmbedder) -> None:
    router = packaged_router(embedder, scripted_llm())
    queue(router, '{"intent": "product"}')
    decision = await router.route(UNSURE, has_images=False, has_files=False)
    assert (decision.intent, decision.decided_by) == (Intent.PRODUCT, "llm")
    assert [s.stage for s in decision.stages] == ["rules", "embedding", "llm"]
    assert not decision.stages[0].sure and not decision.stages[1].sure
    assert calls(router) == 1
    assert router.llm is not None and isinstance(router.llm.provider, ScriptedProvider)
    request = router.llm.provider.last.request
    # JSON-schema-constrained: the schema's enum is the intents
    assert request.response_schema is not None
    assert set(json.dumps(request.response_schema).split('"')) >= {i.value for i in Intent}
    assert UNSURE in str(request.messages[-1].content)

    # use_llm=False: the embedding's best guess, no model call
    decision = await router.route(UNSURE, has_images=False, has_files=False, use_llm=False)
    assert decision.decided_by == "embedding" and [s.stage for s in decision.stages] == [
        "rules",
        "embedding",
    ]
    assert calls(router) == 1


async def test_malformed_llm_json_is_retried_once_then_the_default(
    embedder: LocalEmbedder,
) -> None:
    router = packaged_router(embedder, scripted_llm())
    queue(router, "not json at all", '{"intent": "weather"}')
    decision = await router.route(UNSURE, has_images=False, has_files=False)
    assert (decision.intent, decision.decided_by) == (Intent.CHAT, "default")
    assert decision.confidence == 0 and decision.stages[-1].stage == "llm"
    assert decision.stages[-1].intent is None
    assert calls(router) == 2  # the first answer and one retry

    # a retry that fixes it is taken
    queue(router, '{"intent": "sometimes"}', '{"intent": "memory_recall"}')
    decision = await router.route(UNSURE, has_images=False, has_files=False)
    assert (decision.intent, decision.decided_by) == (Intent.MEMORY_RECALL, "llm")
    assert calls(router) == 4


async def test_a_hanging_llm_times_out_to_the_default(embedder: LocalEmbedder) -> None:
    router = packaged_router(embedder, scripted_llm())
    router.llm_timeout = 0.2
    assert router.llm is not None and isinstance(router.llm.provider, ScriptedProvider)
    router.llm.provider.queue([Hang()])
    decision = await router.route(UNSURE, has_images=False, has_files=False)
    assert (decision.intent, decision.decided_by) == (Intent.CHAT, "default")
    assert 150 < decision.stages[-1].ms < 2000


async def test_attachments(embedder: LocalEmbedder) -> None:
    router = packaged_router(embedder, scripted_llm())
    image = await router.route("what is this?", has_images=True, has_files=False)
    assert image.intent is Intent.IMAGE
    # an image yields only to a clear other intent
    pet = await router.route("remember that this is my dog Rex", has_images=True, has_files=False)
    assert pet.intent is Intent.MEMORY_REMEMBER
    chatty = await router.route("tell me a joke", has_images=True, has_files=False)
    assert chatty.intent is Intent.IMAGE
    # files raise `document`
    for text in ("summarise it", "what are the main risks?"):
        plain = await router.route(text, has_images=False, has_files=False, use_llm=False)
        filed = await router.route(text, has_images=False, has_files=True, use_llm=False)
        assert filed.intent is Intent.DOCUMENT, text
        assert filed.stages[0].score > plain.stages[0].score or plain.intent is not Intent.DOCUMENT
    assert calls(router) == 0


async def test_without_an_embedder_or_llm() -> None:
    router = packaged_router(None, None)
    decision = await router.route("forget that I live in Paris", has_images=False, has_files=False)
    assert (decision.intent, decision.decided_by) == (Intent.MEMORY_FORGET, "rules")
    decision = await router.route("purple elephants", has_images=False, has_files=False)
    assert (decision.intent, decision.decided_by) == (Intent.CHAT, "default")
    assert [s.stage for s in decision.stages] == ["rules"]


async def test_the_rules_file_is_editable(tmp_path: Path) -> None:
    config = json.loads(load_keywords(None).model_dump_json())
    config["intents"]["product"].append({"keyword": "banana  phone", "weight": 5})
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(config))
    settings = Settings(_env_file=None, INTENT_KEYWORDS_PATH=path)  # type: ignore[call-arg]
    router = IntentRouter.build(settings, None, None)
    decision = await router.route("Banana phone please", has_images=False, has_files=False)
    assert (decision.intent, decision.decided_by) == (Intent.PRODUCT, "rules")

    config["intents"]["chat"].append({"regex": "(unclosed", "weight": 1})
    path.write_text(json.dumps(config))
    with pytest.raises(IntentConfigError, match=r"rules\.json"):
        IntentRouter.build(settings, None, None)
    assert load_examples(None).examples[Intent.IMAGE]
