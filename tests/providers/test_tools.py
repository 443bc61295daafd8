"""Tool declarations and tool-call arguments checked against JSON Schema (jsonschema)."""

from __future__ import annotations

import pytest

from llm_platform.providers.base import ToolCall, ToolCallEvent, ToolSpec
from llm_platform.providers.tools import (
    ToolArgumentsInvalid,
    ToolSchemaInvalid,
    UnknownTool,
    check_tools,
    find_tool,
    validate_arguments,
)

PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
    "required": ["city"],
    "additionalProperties": False,
}
SPEC = ToolSpec(name="get_weather", parameters=PARAMETERS)


def test_arguments_are_validated_against_the_schema() -> None:
    spec = SPEC
    for arguments, where in (
        ('{"city": 3}', "city"),
        ('{"city": "Oslo", "days": 0}', "days"),
        ('{"days": 2}', ""),
        ('{"city": "Oslo", "extra": 1}', ""),
    ):
        with pytest.raises(ToolArgumentsInvalid) as failed:
            validate_arguments(spec, ToolCallEvent(id="c", name="get_weather", arguments=arguments))
        assert failed.value.status_code == 422 and failed.value.extra == {
            "tool": "get_weather",
            "path": where,
        }
    with pytest.raises(ToolArgumentsInvalid, match="not valid JSON"):
        validate_arguments(spec, ToolCallEvent(id="c", name="get_weather", arguments="{oops"))
    with pytest.raises(ToolArgumentsInvalid, match="JSON object"):
        validate_arguments(spec, ToolCallEvent(id="c", name="get_weather", arguments="[1]"))
    assert validate_arguments(
        spec, ToolCall(id="c", name="get_weather", arguments='{"city": "Oslo", "days": 3}')
    ) == {"city": "Oslo", "days": 3}
    with pytest.raises(ToolArgumentsInvalid, match="not 'get_weather'"):
        validate_arguments(spec, ToolCallEvent(id="c", name="other", arguments="{}"))


def test_tool_declarations_are_checked() -> None:
    check_tools([SPEC, ToolSpec(name="get_time")], "required")
    check_tools([SPEC], "get_weather")
    check_tools([], None)
    with pytest.raises(ToolSchemaInvalid, match="not a valid JSON Schema"):
        check_tools([ToolSpec(name="f", parameters={"type": "object", "required": "city"})], None)
    with pytest.raises(ToolSchemaInvalid, match="an object"):
        check_tools([ToolSpec(name="f", parameters={"type": "string"})], None)
    with pytest.raises(ToolSchemaInvalid, match="twice"):
        check_tools([SPEC, SPEC], None)
    with pytest.raises(Exception, match="no tool is named 'nope'") as unknown:
        check_tools([SPEC], "nope")
    assert getattr(unknown.value, "status_code", None) == 400
    with pytest.raises(Exception, match="no tools are declared"):
        check_tools([], "required")
    assert find_tool([SPEC], "get_weather") is SPEC
    with pytest.raises(UnknownTool):
        find_tool([SPEC], "nope")


def test_remote_references_are_never_fetched() -> None:
    spec = ToolSpec(name="f", parameters={"$ref": "https://example.org/schema.json"})
    check_tools([spec], None)  # a valid schema...
    with pytest.raises(ToolSchemaInvalid, match="unresolvable"):  # ...that cannot be used
        validate_arguments(spec, ToolCall(id="c", name="f", arguments="{}"))
