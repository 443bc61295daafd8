"""The original client's shopping flow against the real agents (intent router, shopping
interview, catalog search), parsed its way: each turn's `final.options` are the buttons it
shows, a click sends the label as the next message, and the product cards arrive as a
`product_cards` node; the agents' steps are its `status` lines."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from llm_platform.core.config import Settings
from tests.support.legacy_client import chat_body, start_body, stream_chat
from tests.support.products import seed_catalog
from tests.support.query import query_client

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_shopping_interview_to_product_cards(
    make_settings: Callable[..., Settings], embedder: object
) -> None:
    async with query_client(make_settings, LEGACY_CLIENT_COMPAT=True) as client:
        state = client.app.state.platform
        await seed_catalog(state.db, state.rag.runtime.embedder)
        await client.post("/api/v1/session/start", json=start_body("s-shop", "u-1"))
        message = "I want to buy new headphones"
        asked: list[list[str]] = []
        cards: list[dict[str, object]] = []
        for _ in range(5):
            view = await stream_chat(client, chat_body(message, session_id="s-shop"))
            assert view.done and view.errors == [] and view.answer
            assert view.final is not None
            cards = [
                card
                for f in view.frames
                if f["type"] == "node" and f.get("node_type") == "product_cards"
                for card in f["product_cards"]
            ]
            if cards:
                break
            assert view.final["options"], (message, view.statuses, asked)  # question, buttons
            asked.append(view.final["options"])
            message = view.final["options"][0]  # the user clicks the first button
        assert len(asked) >= 2, asked  # a multi-turn interview (use case, budget, ...)
        assert cards, "no product cards after the interview"
        assert all(card["title"] and card["price"] is not None for card in cards)
        assert any("headphone" in str(card["category"]).lower() for card in cards), cards
        # The steps showed as the client's thinking lines.
        assert any("product" in s.lower() for s in view.statuses), view.statuses
