"""The unit a stream carries: a numbered, typed JSON payload."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

TERMINAL_TYPES = frozenset({"done", "error"})


@dataclass(slots=True)
class Frame:
    """One event of a stream. `id` counts from 1 within the stream; `data` includes `type`."""

    id: int
    type: str
    data: dict[str, Any]
    _json: bytes | None = field(default=None, repr=False)

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_TYPES

    def json(self) -> bytes:
        """The payload as JSON, encoded once however many readers send it."""
        if self._json is None:
            self._json = orjson.dumps(self.data)
        return self._json

    @classmethod
    def from_json(cls, frame_id: int, raw: bytes) -> Frame:
        data = orjson.loads(raw)
        return cls(id=frame_id, type=str(data.get("type", "")), data=data, _json=raw)
