"""Native tool calling through every adapter, against the fake vendors' real wire formats:
what goes out (tools, tool_choice, the structured-output mode, a second round's calls and
results) and what comes back (one `ToolCallEvent` per call, arguments assembled)."""

from __future__ import annotations

import base64
import json

from llm_platform.providers.anthropic import RESPONSE_TOOL, AnthropicProvider
from llm_platform.providers.base import (
    ChatMessage,
    ChatRequest,
    DoneEvent,
    ToolCall,
    ToolCallEvent,
    ToolSpec,
    collect,
)
from llm_platform.providers.google import GoogleProvider
from llm_platform.providers.local import forced_call_schema, parse_forced_call
from llm_platform.providers.openai import OpenAIProvider
from llm_platform.providers.openai_compatible import OpenAICompatibleProvider
from llm_platform.providers.scripted import ScriptedProvider, tool_call_events
from tests.support.fake_servers import FakeAnthropic, FakeGemini, FakeOpenAI
from tests.support.providers import drain, kinds

WEATHER = ToolSpec(
    name="get_weather",
    description="The weather in a city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
        "required": ["city"],
    },
)
ARGS = '{"city": "Paris", "unit": "celsius"}'
SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}


def tool_request(model: str, **fields: object) -> ChatRequest:
    return ChatRequest.model_validate(
        {
            "model": model,
            "messages": [ChatMessage(role="user", content="Weather in Paris?")],
            "tools": [WEATHER],
            **fields,
        }
    )


def second_round(model: str) -> ChatRequest:
    """The conversation after the model called a tool and the tool answered."""
    return ChatRequest(
        model=model,
        messages=[
            ChatMessage(role="user", content="Weather in Paris?"),
            ChatMessage(
                role="assistant",
                content="",
                tool_calls=[ToolCall(id="call_1", name="get_weather", arguments=ARGS)],
            ),
            ChatMessage(role="tool", content='{"temp": 21}', tool_call_id="call_1"),
        ],
        tools=[WEATHER],
    )


# --------------------------------------------------------------------------- OpenAI


async def test_chat_completions_sends_tools_choice_and_schema(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario.text = []
    fake_openai.scenario.tool_calls = [("call_1", "get_weather", ARGS)]
    request = tool_request("gpt-4o-mini", tool_choice="get_weather", parallel_tool_calls=False)
    events = await drain(openai_provider.stream(request))
    assert [e for e in events if isinstance(e, ToolCallEvent)] == [
        ToolCallEvent(id="call_1", name="get_weather", arguments=ARGS)
    ]
    body = fake_openai.requests[-1].json()
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False

    await drain(openai_provider.stream(tool_request("gpt-4o-mini", tool_choice="required")))
    assert fake_openai.requests[-1].json()["tool_choice"] == "required"

    fake_openai.scenario.tool_calls = []
    schema_request = ChatRequest(
        model="gpt-4o-mini",
        messages=[ChatMessage(role="user", content="?")],
        response_schema=SCHEMA,
    )
    await drain(openai_provider.stream(schema_request))
    assert fake_openai.requests[-1].json()["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": SCHEMA, "strict": False},
    }


async def test_chat_completions_second_round_messages(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    await drain(openai_provider.stream(second_round("gpt-4o-mini")))
    messages = fake_openai.requests[-1].json()["messages"]
    assert messages[1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ARGS},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
    ]


async def test_responses_api_streams_function_calls_in_pieces(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario.text = ["Checking."]
    fake_openai.scenario.tool_calls = [
        ("call_a", "get_weather", ARGS),
        ("call_b", "get_weather", '{"city": "Oslo"}'),
    ]
    request = tool_request("gpt-5-mini", tool_choice="required", response_schema=None)
    events = await drain(openai_provider.stream(request))
    assert kinds(events)[-4:] == ["text", "tool_call", "usage", "done"]
    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [
        ToolCallEvent(id="call_a", name="get_weather", arguments=ARGS),
        ToolCallEvent(id="call_b", name="get_weather", arguments='{"city": "Oslo"}'),
    ]
    assert events[-1] == DoneEvent(finish_reason="tool_calls")
    sent = fake_openai.requests[-1]
    assert sent.path == "/v1/responses"
    body = sent.json()
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": WEATHER.parameters,
            "strict": False,
        }
    ]
    assert body["tool_choice"] == "required"


async def test_responses_api_second_round_and_text_format(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    request = second_round("gpt-5-mini").model_copy(
        update={"tool_choice": "get_weather", "response_schema": SCHEMA}
    )
    await drain(openai_provider.stream(request))
    body = fake_openai.requests[-1].json()
    assert body["input"][1:] == [
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": ARGS},
        {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 21}'},
    ]
    assert body["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "response", "schema": SCHEMA, "strict": False}
    }


async def test_compatible_servers_get_tools_and_json_mode(
    deepseek_provider: OpenAICompatibleProvider,
    fake_deepseek: FakeOpenAI,
    openrouter_provider: OpenAICompatibleProvider,
    fake_openrouter: FakeOpenAI,
) -> None:
    fake_openrouter.scenario.text = []
    fake_openrouter.scenario.tool_calls = [("call_r", "get_weather", ARGS)]
    completion = await collect(
        openrouter_provider.stream(tool_request("openai/gpt-4o-mini", tool_choice="auto"))
    )
    assert completion.tool_calls == [ToolCallEvent(id="call_r", name="get_weather", arguments=ARGS)]
    assert completion.finish_reason == "tool_calls"
    body = fake_openrouter.requests[-1].json()
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert body["tool_choice"] == "auto"

    schema_request = ChatRequest(
        model="deepseek-chat",
        messages=[ChatMessage(role="user", content="?")],
        response_schema=SCHEMA,
    )
    await drain(deepseek_provider.stream(schema_request))
    assert fake_deepseek.requests[-1].json()["response_format"] == {"type": "json_object"}


# --------------------------------------------------------------------------- Anthropic


async def test_anthropic_tool_use_blocks_and_input_json_deltas(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.scenario.text = ["Let me check."]
    fake_anthropic.scenario.tool_calls = [
        ("toolu_1", "get_weather", ARGS),
        ("toolu_2", "get_weather", '{"city": "Rome"}'),
    ]
    request = tool_request("claude-sonnet-4-5", tool_choice="auto", parallel_tool_calls=False)
    completion = await collect(anthropic_provider.stream(request))
    assert completion.text == "Let me check."
    assert completion.tool_calls == [
        ToolCallEvent(id="toolu_1", name="get_weather", arguments=ARGS),
        ToolCallEvent(id="toolu_2", name="get_weather", arguments='{"city": "Rome"}'),
    ]
    assert completion.finish_reason == "tool_calls"
    body = fake_anthropic.requests[-1].json()
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "The weather in a city",
            "input_schema": WEATHER.parameters,
        }
    ]
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


async def test_anthropic_forced_tool_turns_thinking_off_and_second_round(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    request = tool_request("claude-sonnet-4-6", tool_choice="required")
    await drain(anthropic_provider.stream(request))
    body = fake_anthropic.requests[-1].json()
    assert body["tool_choice"] == {"type": "any"}
    assert "thinking" not in body  # extended thinking allows only auto/none

    conversation = second_round("claude-sonnet-4-5").model_copy(
        update={
            "messages": [
                *second_round("x").messages,
                ChatMessage(role="tool", content="sunny", tool_call_id="call_2"),
            ]
        }
    )
    await drain(anthropic_provider.stream(conversation))
    messages = fake_anthropic.requests[-1].json()["messages"]
    # results for calls whose thinking block was not kept: thinking off (4.6 always thinks)
    await drain(anthropic_provider.stream(second_round("claude-sonnet-4-6")))
    assert "thinking" not in fake_anthropic.requests[-1].json()
    assert messages[1] == {
        "role": "assistant",
        "content": [
            {
                "type": "tool_use",
                "id": "call_1",
                "name": "get_weather",
                "input": {"city": "Paris", "unit": "celsius"},
            }
        ],
    }
    # consecutive results are one user turn
    assert messages[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": '{"temp": 21}'},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "sunny"},
        ],
    }


async def test_anthropic_response_schema_is_a_forced_tool_read_as_text(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.scenario.text = []
    fake_anthropic.scenario.tool_calls = [("toolu_9", RESPONSE_TOOL, '{"answer": 42}')]
    request = ChatRequest(
        model="claude-haiku-4-5",
        messages=[ChatMessage(role="user", content="6 times 7?")],
        response_schema=SCHEMA,
    )
    completion = await collect(anthropic_provider.stream(request))
    assert json.loads(completion.text) == {"answer": 42}
    assert completion.tool_calls == []
    assert completion.finish_reason == "stop"
    body = fake_anthropic.requests[-1].json()
    assert body["tool_choice"] == {"type": "tool", "name": RESPONSE_TOOL}
    assert body["tools"][0]["input_schema"] == SCHEMA


# --------------------------------------------------------------------------- Gemini


async def test_gemini_function_declarations_and_calls(
    google_provider: GoogleProvider, fake_gemini: FakeGemini
) -> None:
    fake_gemini.scenario.text = []
    fake_gemini.scenario.tool_calls = [
        ("", "get_weather", ARGS),
        ("", "get_weather", '{"city": "Lima"}'),
    ]
    request = tool_request("gemini-2.0-flash", tool_choice="get_weather")
    completion = await collect(google_provider.stream(request))
    assert [(c.name, json.loads(c.arguments)) for c in completion.tool_calls] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"}),
        ("get_weather", {"city": "Lima"}),
    ]
    assert len({c.id for c in completion.tool_calls}) == 2  # numbered: Gemini gives no ids
    assert completion.finish_reason == "tool_calls"
    body = fake_gemini.requests[-1].json()
    declaration = body["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "get_weather"
    # the SDK writes this field in snake case (the API takes both spellings)
    assert declaration["parameters_json_schema"] == WEATHER.parameters
    assert body["toolConfig"]["functionCallingConfig"] == {
        "mode": "ANY",
        "allowedFunctionNames": ["get_weather"],
    }


async def test_gemini_second_round_and_response_schema(
    google_provider: GoogleProvider, fake_gemini: FakeGemini
) -> None:
    request = second_round("gemini-2.0-flash").model_copy(update={"response_schema": SCHEMA})
    await drain(google_provider.stream(request))
    body = fake_gemini.requests[-1].json()
    contents = body["contents"]
    assert contents[1]["role"] == "model"
    assert contents[1]["parts"][0]["functionCall"] == {
        "id": "call_1",
        "name": "get_weather",
        "args": {"city": "Paris", "unit": "celsius"},
    }
    assert contents[2]["role"] == "user"
    assert contents[2]["parts"][0]["functionResponse"] == {
        "id": "call_1",
        "name": "get_weather",  # found from the call it answers
        "response": {"temp": 21},
    }
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == SCHEMA
    assert "thoughtSignature" not in contents[1]["parts"][0]

    # Gemini 3 wants a replayed call's thought signature: the documented placeholder
    await drain(google_provider.stream(second_round("gemini-3-pro-preview")))
    part = fake_gemini.requests[-1].json()["contents"][1]["parts"][0]
    assert base64.b64decode(part["thoughtSignature"]) == b"skip_thought_signature_validator"


# --------------------------------------------------------------------------- local, scripted


def test_local_forced_call_schema_and_parse() -> None:
    assert forced_call_schema(tool_request("m", tool_choice="auto")) is None
    schema = forced_call_schema(tool_request("m", tool_choice="get_weather"))
    assert schema == {
        "type": "object",
        "properties": {"name": {"const": "get_weather"}, "arguments": WEATHER.parameters},
        "required": ["name", "arguments"],
    }
    call = parse_forced_call('{"name": "get_weather", "arguments": {"city": "Paris"}}')
    assert isinstance(call, ToolCallEvent)
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert call.id.startswith("call_")
    assert parse_forced_call('{"name": "get_weat').type == "text"  # cut short: left as text


async def test_scripted_provider_queues_tool_calls() -> None:
    provider = ScriptedProvider()
    provider.queue(tool_call_events(("call_1", "get_weather", ARGS)))
    completion = await collect(provider.stream(tool_request("echo")))
    assert completion.tool_calls == [ToolCallEvent(id="call_1", name="get_weather", arguments=ARGS)]
    assert completion.finish_reason == "tool_calls"
    # the demo "tools" model calls the first tool, then reports its result
    first = await collect(provider.stream(tool_request("tools")))
    assert [c.name for c in first.tool_calls] == ["get_weather"]
    second = await collect(provider.stream(second_round("tools")))
    assert second.text == 'The tool said: {"temp": 21}'
