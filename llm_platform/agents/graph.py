"""The turn graph (LangGraph, for orchestration and persistence only): the coordinator
routes, the agents it chose run in parallel (the product search after the shopping
interview when that is ready), the writer answers once every branch has ended (a deferred
node). Models are called through the platform's provider adapters, never LangGraph's.

Streamed with `stream_mode=["custom", "values"]`: the custom items are the agents' events
and the writer's frames, in order; the last `values` item is the turn's final state.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from llm_platform.agents import nodes
from llm_platform.agents.base_agent import TurnDeps, agent_node
from llm_platform.agents.coordinator import after_coordinator, coordinate
from llm_platform.agents.state import TurnInput, TurnState
from llm_platform.agents.vision_agent import vision
from llm_platform.agents.writer_agent import write

WORKERS = ("memory", "retrieval", "vision", "shopping", "product")

TurnGraph = CompiledStateGraph[TurnState, TurnDeps, TurnInput, Any]


def build_graph(checkpointer: BaseCheckpointSaver[Any] | None = None) -> TurnGraph:
    graph = StateGraph(TurnState, context_schema=TurnDeps, input_schema=TurnInput)
    graph.add_node("coordinator", agent_node("coordinator", coordinate))
    graph.add_node("memory", agent_node("memory", nodes.memory))
    graph.add_node("retrieval", agent_node("retrieval", nodes.retrieval))
    graph.add_node("vision", agent_node("vision", vision))
    graph.add_node("shopping", agent_node("shopping", nodes.shopping))
    graph.add_node("product", agent_node("product", nodes.product))
    graph.add_node("writer", agent_node("writer", write), defer=True)
    graph.add_edge(START, "coordinator")
    graph.add_conditional_edges("coordinator", after_coordinator, [*WORKERS, "writer"])
    graph.add_conditional_edges("shopping", nodes.after_shopping, ["product", "writer"])
    for name in ("memory", "retrieval", "vision", "product"):
        graph.add_edge(name, "writer")
    graph.add_edge("writer", END)
    return graph.compile(checkpointer=checkpointer, name="turn")
