"""Strict JSON request bodies for every API route.

FastAPI parses JSON bodies with the standard library, which accepts what no database stores:
`NaN`/`Infinity`, lone surrogates (`"\\ud800"`) and nesting deeper than the JSON encoders go.
`JSONRoute` parses with orjson instead (which rejects the first two), also refuses NUL
characters (PostgreSQL cannot store `\\u0000` in text or JSONB) and nesting deeper than
`MAX_JSON_DEPTH`, so such a body is a 422 at the door instead of a 500 at the insert.

`BeaconRoute` additionally reads `text/plain` bodies as JSON: `navigator.sendBeacon(url,
string)` can only send text/plain, and that is the one way a closing browser tab still gets
its last events out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, MutableMapping
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute

# orjson serialises at most 255 levels; the engine stores JSON with orjson.
MAX_JSON_DEPTH = 255
_NUL_ESCAPE = b"\\u0000"


class UnstorableJSON(json.JSONDecodeError):
    """Valid JSON that cannot be stored: FastAPI reports it like malformed JSON (422)."""


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in key:
                    return True
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_json_body(body: bytes) -> Any:
    """Parse a request body strictly (see the module docstring)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnstorableJSON(
            exc.msg, exc.doc if isinstance(exc.doc, str) else "", exc.pos
        ) from None
    # Cheap pre-checks on the raw bytes; the walks only run when they could find something.
    if _NUL_ESCAPE in body and _has_nul(value):
        raise UnstorableJSON("NUL characters (\\u0000) are not allowed", "", 0)
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH:
        try:
            orjson.dumps(value)
        except orjson.JSONEncodeError:
            raise UnstorableJSON(
                f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "", 0
            ) from None
    return value


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json_body(await self.body())
        return self._json


class JSONRoute(APIRoute):
    """The route class of every API router."""

    text_plain_is_json = False

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        text_plain_is_json = self.text_plain_is_json

        async def strict_handler(request: Request) -> Response:
            scope = request.scope
            if text_plain_is_json:
                _text_plain_as_json(scope)
            return await handler(StrictJSONRequest(scope, request.receive, request._send))

        return strict_handler


class BeaconRoute(JSONRoute):
    """For endpoints that browsers call with `navigator.sendBeacon` (text/plain JSON)."""

    text_plain_is_json = True


def _text_plain_as_json(scope: MutableMapping[str, Any]) -> None:
    headers: list[tuple[bytes, bytes]] = list(scope["headers"])
    for index, (name, value) in enumerate(headers):
        if name == b"content-type":
            if value.split(b";", 1)[0].strip().lower() == b"text/plain":
                headers[index] = (name, b"application/json")
                scope["headers"] = headers
            return
