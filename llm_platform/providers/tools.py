"""Tool calls checked before anything runs them: a tool's JSON Schema must itself be valid
(checked when a request declares it), and a call's arguments must be one JSON object valid
against it (checked before execution). Both failures are the caller's (4xx), never a 500.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.exceptions import ValidationError as SchemaValidationError
from referencing.exceptions import Unresolvable

from llm_platform.core.errors import BadRequest, NotFound, ValidationFailed
from llm_platform.providers.base import ToolCall, ToolCallEvent, ToolSpec

MAX_MESSAGE_CHARS = 500


class ToolSchemaInvalid(BadRequest):
    """A declared tool's `parameters` is not a valid JSON Schema (or not an object's)."""

    type = "tool_schema_invalid"


class ToolArgumentsInvalid(ValidationFailed):
    """A tool call's arguments are not JSON, not an object, or not valid for its tool."""

    type = "tool_arguments_invalid"

    def __init__(self, detail: str, *, tool: str, path: str = "") -> None:
        super().__init__(detail)
        self.extra = {"tool": tool, "path": path}


class UnknownTool(NotFound):
    type = "unknown_tool"


def check_tool_schema(spec: ToolSpec) -> None:
    """Raise `ToolSchemaInvalid` unless `spec.parameters` is a JSON Schema for an object."""
    try:
        Draft202012Validator.check_schema(spec.parameters)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise ToolSchemaInvalid(
            f"tools.{spec.name}.parameters: not a valid JSON Schema at {where}: "
            f"{exc.message[:MAX_MESSAGE_CHARS]}"
        ) from None
    kind = spec.parameters.get("type", "object")
    if kind != "object":
        raise ToolSchemaInvalid(
            f"tools.{spec.name}.parameters: the schema must describe an object (type 'object')"
        )


def check_tools(tools: Sequence[ToolSpec], tool_choice: str | None) -> None:
    """A request's tools: valid schemas, unique names, a `tool_choice` that names one."""
    names: set[str] = set()
    for spec in tools:
        if spec.name in names:
            raise ToolSchemaInvalid(f"tools: the name '{spec.name}' is declared twice")
        names.add(spec.name)
        check_tool_schema(spec)
    if tool_choice in (None, "auto", "none"):
        return
    if not tools:
        raise BadRequest("tool_choice: no tools are declared")
    if tool_choice != "required" and tool_choice not in names:
        raise BadRequest(f"tool_choice: no tool is named '{tool_choice}'")


def find_tool(tools: Sequence[ToolSpec], name: str) -> ToolSpec:
    for spec in tools:
        if spec.name == name:
            return spec
    raise UnknownTool(f"The model called an undeclared tool '{name}'")


def validate_arguments(spec: ToolSpec, call: ToolCallEvent | ToolCall) -> dict[str, Any]:
    """The call's arguments as a dict, valid against `spec.parameters`; otherwise
    `ToolArgumentsInvalid` (422) naming the first failing path."""
    if call.name != spec.name:
        raise ToolArgumentsInvalid(
            f"The call is for '{call.name}', not '{spec.name}'", tool=spec.name
        )
    try:
        arguments = json.loads(call.arguments or "{}")
    except json.JSONDecodeError as exc:
        raise ToolArgumentsInvalid(
            f"{spec.name}: the arguments are not valid JSON ({exc.msg} at {exc.pos})",
            tool=spec.name,
        ) from None
    if not isinstance(arguments, dict):
        raise ToolArgumentsInvalid(
            f"{spec.name}: the arguments must be a JSON object", tool=spec.name
        )
    validator = Draft202012Validator(spec.parameters)
    try:
        error = _first_error(validator, arguments)
    except Unresolvable as exc:  # a `$ref` to elsewhere: nothing is ever fetched
        raise ToolSchemaInvalid(
            f"tools.{spec.name}.parameters: unresolvable reference {exc}"[:MAX_MESSAGE_CHARS]
        ) from None
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path)
        where = f" at {path}" if path else ""
        raise ToolArgumentsInvalid(
            f"{spec.name}: invalid arguments{where}: {error.message[:MAX_MESSAGE_CHARS]}",
            tool=spec.name,
            path=path,
        )
    return arguments


def _first_error(
    validator: Draft202012Validator, instance: dict[str, Any]
) -> SchemaValidationError | None:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return errors[0] if errors else None
